"""Word lists and picklists the demo data draws from (all ASCII, no quotes or backslashes: JSON-safe)."""

from __future__ import annotations

INDUSTRIES = [
    "Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
    "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental",
    "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance", "Machinery",
    "Manufacturing", "Media", "Not For Profit", "Other", "Recreation", "Retail", "Shipping", "Technology",
    "Telecommunications", "Transportation", "Utilities",
]  # Salesforce's standard Lead Industry picklist (SPEC §4)

REPLY_CATEGORIES = [
    "Interested", "Meeting Request", "Not Interested", "Do Not Contact", "Information Request",
    "Out Of Office", "Wrong Person", "Uncategorizable by AI", "Sender Originated Bounce",
]  # Smartlead's standard categories, ids 1..9 (source_schemas §1.7)

# Categories a filler reply gets, with weights (Sender Originated Bounce only appears in scenarios).
FILLER_CATEGORIES = [
    ("Interested", 22), ("Meeting Request", 8), ("Not Interested", 30), ("Do Not Contact", 3),
    ("Information Request", 9), ("Out Of Office", 18), ("Wrong Person", 6), ("Uncategorizable by AI", 4),
]
FILLER_CATEGORY_NAMES = [name for name, _ in FILLER_CATEGORIES]

GBUS = ["Specialty Polymers", "Composite Materials", "Novecare", "Aroma Performance"]

LEAD_STATUSES = ["Open - Not Contacted", "Working - Contacted", "Nurturing", "Unqualified"]
CONVERTED_STATUS = "Closed - Converted"
CM_STATUSES = ["Sent", "Sent", "Sent", "Opened", "Clicked"]
CM_REPLIED_STATUS = "Responded"
SMARTLEAD_STATUSES = [("COMPLETED", 50), ("INPROGRESS", 35), ("STARTED", 10), ("PAUSED", 3), ("STOPPED", 2)]
EMAIL_VALIDATION = [("valid", 85), ("catch-all", 8), ("risky", 5), ("unknown", 2)]

FIRST_NAMES = [
    "Anna", "Ben", "Chloe", "David", "Elena", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Karin", "Lucas",
    "Maria", "Nils", "Olivia", "Pieter", "Quentin", "Rosa", "Stefan", "Tara", "Umberto", "Vera", "Willem",
    "Xenia", "Yusuf", "Zoe", "Aiko", "Bruno", "Carmen", "Dmitri", "Emma", "Farah", "Giulia", "Henrik",
    "Ivan", "Julia", "Kenji", "Lea", "Mateo", "Nora", "Omar", "Paula", "Rafael", "Sofia", "Thomas",
    "Ulrike", "Victor", "Wei", "Yara", "Zainab", "Arjun", "Beatriz", "Claire", "Diego", "Eva", "Frank",
    "Hanna", "Isabel", "Jan", "Lars", "Mei", "Noah", "Priya", "Sven", "Ana", "Marc", "Laura", "Tom",
]
LAST_NAMES = [
    "Schmidt", "Dubois", "Rossi", "Garcia", "Smith", "Jansen", "Nowak", "Silva", "Kim", "Tanaka", "Muller",
    "Martin", "Bianchi", "Lopez", "Brown", "De Vries", "Kowalski", "Santos", "Lee", "Sato", "Weber",
    "Bernard", "Romano", "Martinez", "Taylor", "Bakker", "Wojcik", "Costa", "Park", "Suzuki", "Fischer",
    "Thomas", "Colombo", "Hernandez", "Wilson", "Visser", "Kaminski", "Oliveira", "Chen", "Watanabe",
    "Becker", "Petit", "Ricci", "Gonzalez", "Davies", "Smit", "Lewandowski", "Pereira", "Wang", "Ito",
    "Hoffmann", "Moreau", "Greco", "Perez", "Evans", "Meijer", "Zielinski", "Ferreira", "Liu", "Yamamoto",
]
COMPANY_STEMS = [
    "Northwind", "Contoso", "Fabrikam", "Tailspin", "Adatum", "Litware", "Proseware", "Wingtip", "Fourth",
    "Alpine", "Baltic", "Cobalt", "Delta", "Evergreen", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
    "Keystone", "Lumen", "Meridian", "Nordic", "Orion", "Pioneer", "Quarry", "Riviera", "Summit", "Tundra",
    "Unity", "Vertex", "Westbrook", "Zenith", "Atlas", "Beacon", "Crescent", "Dynamo", "Ember", "Falcon",
    "Glacier", "Helix", "Ionic", "Jade", "Kestrel", "Lotus", "Monarch", "Nimbus", "Oasis", "Polaris",
]
COMPANY_KINDS = [
    "Polymers", "Coatings", "Composites", "Adhesives", "Plastics", "Aerospace", "Automotive", "Packaging",
    "Pharma", "Agro", "Mining", "Energy", "Electronics", "Textiles", "Foods", "Logistics", "Water",
    "Batteries", "Membranes", "Cosmetics",
]
LEGAL_FORMS = ["GmbH", "SA", "Inc.", "Ltd", "S.p.A.", "BV", "AG", "LLC", "SAS", "Oy"]
TLDS = [".com", ".de", ".fr", ".it", ".nl", ".com", ".co.uk", ".es", ".com", ".jp"]
CITIES = [
    "Brussels", "Lyon", "Milan", "Rotterdam", "Houston", "Shanghai", "Sao Paulo", "Stuttgart", "Osaka",
    "Bangalore", "Barcelona", "Atlanta", "Seoul", "Krakow", "Manchester", "Singapore", "Toronto", "Vienna",
]
PRODUCTS = [
    "high-performance polymers", "structural adhesives", "carbon-fibre composites", "surfactants",
    "battery binders", "water-treatment membranes", "crop-protection formulations", "aroma ingredients",
    "engineering plastics", "barrier coatings", "mining reagents", "lightweight car parts",
]
MARKETS = ["aerospace", "automotive", "consumer goods", "electronics", "healthcare", "agriculture", "energy"]
JOB_TITLES = [
    "Procurement Manager", "R&D Director", "Plant Manager", "Head of Sourcing", "CTO", "Buyer",
    "Product Manager", "VP Operations", "Materials Engineer", "Category Manager",
]
CAMPAIGN_THEMES = [
    "Cold Outreach", "Trade Show Follow-up", "Webinar Invite", "Sustainability Launch", "Reactivation",
]
SENDERS = ["sdr@outreach-mail.com", "team@outreach-mail.com", "partnerships@outreach-mail.com"]
