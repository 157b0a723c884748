"""sObject describe, evaluated for the running user (fields they cannot read are absent)."""

from .schema import SCHEMA, ObjectDef
from .security import UserSpec, can_edit_field, can_edit_object, can_read_field, can_read_object

_SOAP = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "int": "xsd:int",
}
_TEXT = ("string", "email", "textarea", "picklist", "phone", "multipicklist")


def describe_object(obj: ObjectDef, user: UserSpec, version: str) -> dict:
    """The `GET sobjects/{O}/describe` body for `user` (key set and order as a real API 59.0 org)."""
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    editable = can_edit_object(user, obj.name)
    fields = [describe_field(obj, f, user) for f in obj.fields.values() if can_read_field(user, obj.name, f.name)]
    children = [
        {
            "cascadeDelete": False,
            "childSObject": c,
            "deprecatedAndHidden": False,
            "field": f,
            "junctionIdListNames": [],
            "junctionReferenceTo": [],
            "relationshipName": r,
            "restrictedDelete": False,
        }
        for c, f, r in obj.children
    ]
    return {
        "actionOverrides": [],
        "activateable": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        "childRelationships": children,
        "compactLayoutable": not obj.setup,
        "createable": editable,
        "custom": False,
        "customSetting": False,
        "deepCloneable": False,
        "defaultImplementation": None,
        "deletable": editable and user.modify_all,
        "deprecatedAndHidden": False,
        "extendedBy": None,
        "extendsInterfaces": None,
        "feedEnabled": not obj.setup,
        "fields": fields,
        "hasSubtypes": False,
        "implementedBy": None,
        "implementsInterfaces": None,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": obj.prefix,
        "label": obj.label,
        "labelPlural": obj.plural,
        "layoutable": not obj.setup,
        "listviewable": None,
        "lookupLayoutable": None,
        "mergeable": obj.name in ("Lead", "Contact"),
        "mruEnabled": not obj.setup,
        "name": obj.name,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "queryable": can_read_object(user, obj.name),
        "recordTypeInfos": [],
        "replicateable": True,
        "retrieveable": True,
        "searchLayoutable": not obj.setup,
        "searchable": not obj.setup,
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [{"label": "All", "name": "everything"}],
        "triggerable": not obj.setup,
        "undeletable": editable and user.modify_all,
        "updateable": editable,
        "urls": {
            "compactLayouts": f"{base}/describe/compactLayouts",
            "rowTemplate": f"{base}/{{ID}}",
            "describe": f"{base}/describe",
            "sobject": base,
        },
    }


def describe_field(obj: ObjectDef, fdef, user: UserSpec) -> dict:
    """One `fields[]` entry: the 57 keys of API 59.0, alphabetical as Salesforce sends them."""
    text = fdef.type in _TEXT
    editable = can_edit_field(user, obj.name, fdef.name)
    length = fdef.length if text or fdef.type in ("id", "reference") else 0
    return {
        "aggregatable": fdef.type not in ("textarea", "boolean"),
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": length * 3 if text else length,
        "calculated": fdef.calculated,
        "calculatedFormula": fdef.formula,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": None,
        "controllerName": None,
        "createable": editable and fdef.createable,
        "custom": fdef.custom,
        "defaultValue": fdef.default if fdef.type == "boolean" else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": fdef.system or fdef.type == "boolean" or fdef.default is not None,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": False,
        "extraTypeInfo": None,
        "filterable": fdef.type != "textarea",
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": fdef.type not in ("textarea", "datetime"),
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": fdef.type == "id" or fdef.type == "email",
        "inlineHelpText": None,
        "label": fdef.label,
        "length": length,
        "mask": None,
        "maskType": None,
        "name": fdef.name,
        "nameField": fdef.name == "Name",
        "namePointing": False,
        "nillable": fdef.nillable and fdef.type != "boolean",
        "permissionable": fdef.permissionable,
        "picklistValues": [_picklist_entry(v, v == fdef.default) for v in fdef.picklist],
        "polymorphicForeignKey": False,
        "precision": 0,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": [fdef.reference_to] if fdef.reference_to else [],
        "relationshipName": fdef.relationship,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": fdef.restricted,
        "scale": 0,
        "searchPrefilterable": False,
        "soapType": _SOAP.get(fdef.type, "xsd:string"),
        "sortable": fdef.type != "textarea",
        "type": fdef.type,
        "unique": False,
        "updateable": editable,
        "writeRequiresMasterRead": False,
    }


def _picklist_entry(value: str, default: bool) -> dict:
    return {"active": True, "defaultValue": default, "label": value, "validFor": None, "value": value}


# The keys of a describeGlobal `sobjects[]` entry (DescribeGlobalSObjectResult, alphabetical as sent):
# https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_describeGlobal.htm and
# https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describeglobal_describeglobalsobjectresult.htm
GLOBAL_KEYS = (
    "activateable",
    "associateEntityType",
    "associateParentEntity",
    "createable",
    "custom",
    "customSetting",
    "deepCloneable",
    "deletable",
    "deprecatedAndHidden",
    "feedEnabled",
    "hasSubtypes",
    "isInterface",
    "isSubtype",
    "keyPrefix",
    "label",
    "labelPlural",
    "layoutable",
    "mergeable",
    "mruEnabled",
    "name",
    "queryable",
    "replicateable",
    "retrieveable",
    "searchable",
    "triggerable",
    "undeletable",
    "updateable",
)


def object_summary(obj: ObjectDef, user: UserSpec, version: str) -> dict:
    """The short form used by describeGlobal and `GET sobjects/{O}` (objectDescribe): the object-level flags of
    the full describe, evaluated for the same user, so the two never disagree."""
    full = describe_object(obj, user, version)
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    out = {key: full[key] for key in GLOBAL_KEYS}
    out["urls"] = {"rowTemplate": f"{base}/{{ID}}", "describe": f"{base}/describe", "sobject": base}
    return out


def describe_global(user: UserSpec, version: str) -> dict:
    objects = [object_summary(o, user, version) for o in SCHEMA.values() if can_read_object(user, o.name)]
    return {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects}
