"""The legacy SOAP login of the sandbox org: `POST /services/Soap/u/{version}` with the partner WSDL's login().

Answers as Salesforce documents it:
- login(): https://developer.salesforce.com/docs/platform/api/guide/sforce-api-calls-login.html — the password is
  the user's password followed by the security token when the client's IP is not trusted (127.0.0.1 is not);
  a refused login is a LoginFault (HTTP 500, SOAP fault `sf:INVALID_LOGIN`, detail `sf:exceptionCode` /
  `sf:exceptionMessage`), the same answer for an unknown user, a wrong password and a missing token;
- LoginResult: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_login_loginresult.htm
  (metadataServerUrl, passwordExpired, sandbox, serverUrl, sessionId, userId, userInfo); the sessionId is a
  REST API bearer token like an OAuth access token and expires after `Org.token_ttl` seconds;
- login() is not available from API 65.0 and retired in Summer '27 (SOAP API End-of-Life Policy,
  https://developer.salesforce.com/docs/platform/api/guide/api-eol-soap.html): such a version is answered
  `500:UNSUPPORTED_API_VERSION`, as that page says for operations of versions that do not offer them.
"""

from __future__ import annotations

import hmac
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from .oauth import ORG_ID
from .web import Request, Response

XML_TYPE = "text/xml;charset=UTF-8"
FIRST_VERSION, LAST_VERSION = 31.0, 64.0  # login() exists in the supported versions before 65.0
INVALID_LOGIN = "Invalid username, password, security token; or user locked out."
_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    '{ns} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>'
)


def login(req: Request) -> Response:
    """POST /services/Soap/u/{version} (unauthenticated: the username and password are the credential)."""
    version = req.match[0]
    if not FIRST_VERSION <= float(version) <= LAST_VERSION:
        return _fault("UNSUPPORTED_API_VERSION", f"login() is not available in API version {version}")
    try:
        fields = {el.tag.rpartition("}")[2]: (el.text or "") for el in ET.fromstring(req.body).iter()}
    except ET.ParseError:
        return _fault(None, "Bad request: the body is not a SOAP envelope")
    if "login" not in fields:
        return _fault(None, "Bad request: the SOAP body holds no login() call")
    user = next((u for u in req.org.users if u.username == fields.get("username")), None)
    expected = (user.password + user.security_token) if user else ""
    if user is None or not hmac.compare_digest(fields.get("password", "").encode(), expected.encode()):
        return _fault("INVALID_LOGIN", INVALID_LOGIN)
    if not user.api_enabled:
        return _fault("API_CURRENTLY_DISABLED", "API is disabled for this User")
    session_id = req.org.issue_token(user.key)
    base = req.org.login_url
    values = {
        "metadataServerUrl": f"{base}/services/Soap/m/{version}/{ORG_ID}",
        "passwordExpired": "false",
        "sandbox": "true",
        "serverUrl": f"{base}/services/Soap/u/{version}/{ORG_ID}",
        "sessionId": session_id,
        "userId": user.user_id,
    }
    info = {
        "organizationId": ORG_ID,
        "organizationName": "Reconcile Sandbox",
        "sessionSecondsValid": str(int(req.org.token_ttl)),
        "userEmail": user.username,
        "userFullName": user.name,
        "userId": user.user_id,
        "userName": user.username,
        "userType": "Standard",
    }
    result = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in values.items())
    result += "<userInfo>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in info.items()) + "</userInfo>"
    body = f"<loginResponse><result>{result}</result></loginResponse>"
    return Response(200, _ENVELOPE.format(ns='xmlns="urn:partner.soap.sforce.com"', body=body).encode(), XML_TYPE)


def _fault(code: str | None, message: str) -> Response:
    """A SOAP fault (HTTP 500): a LoginFault with `sf:exceptionCode` for `code`, else a client fault."""
    if code is None:
        body = f"<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>{escape(message)}</faultstring>"
    else:
        body = (
            f"<soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring>"
            '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
            f"<sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
            "</sf:LoginFault></detail>"
        )
    envelope = _ENVELOPE.format(ns='xmlns:sf="urn:fault.partner.soap.sforce.com"', body=body + "</soapenv:Fault>")
    return Response(500, envelope.encode(), XML_TYPE)
