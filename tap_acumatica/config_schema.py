"""The config JSON schema users see in ``--about``, Meltano and docs/SETTINGS.md.

Names follow the seed connector (``url``, ``auth_scheme``, ``schema``, ``company``,
``endpoint_name``, ``endpoint_version``) so users moving from it recognise them. Every
``default=`` here is read from :data:`tap_acumatica.settings.DEFAULTS` (the defaults of
:class:`~tap_acumatica.settings.Settings`), so a default is written in one place only.
``endpoint_name`` and ``odata_url_style`` deliberately have no schema default: a default
the SDK writes into the config could not be told from a value the user set, and ``url``
can imply them.
"""

from __future__ import annotations

from singer_sdk import typing as th

from tap_acumatica.settings import (
    AUTH_SCHEMES,
    DEFAULT_ENDPOINT_VERSION,
    DEFAULTS,
    ODATA_URL_STYLES,
    SCHEMAS,
)

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "url",
        th.StringType,
        required=True,
        title="Instance URL",
        description=(
            "URL of the Acumatica instance, e.g. `https://erp.example.com/AcumaticaERP`. "
            "Any URL of the instance works: a REST endpoint URL (`…/entity/Default/"
            "24.200.001/`), the OData URL Acumatica shows (`…/t/MyCompany/api/odata/gi/`, "
            "`…/odata/MyCompany/`) or a page of the web UI (`…/Main?CompanyID=MyCompany`). "
            "Endpoint, version, tenant and OData URL family are taken from it unless set; "
            "the run logs what it understood."
        ),
    ),
    th.Property(
        "auth_scheme",
        th.StringType,
        default=DEFAULTS["auth_scheme"],
        allowed_values=list(AUTH_SCHEMES),
        description=(
            "`Basic`: username/password login session (cookies; logged out at the end). "
            "`OAuthPassword`: OAuth 2 resource-owner password grant. `OAuth`: authorization "
            "code flow, runs from a refresh token. `OAuthImplicit`: a given access token."
        ),
    ),
    th.Property("username", th.StringType, description="Acumatica user name (API user)."),
    th.Property(
        "password", th.StringType, secret=True, description="Password of the Acumatica user."
    ),
    th.Property(
        "company",
        th.StringType,
        title="Company (tenant)",
        description=(
            "Tenant to sign in to (sent as `tenant` at login; names the tenant in OData URLs). "
            "Leave empty only on single-tenant instances."
        ),
    ),
    th.Property("branch", th.StringType, description="Branch to sign in to (optional)."),
    th.Property("locale", th.StringType, description="Locale to sign in with, e.g. `en-US`."),
    th.Property(
        "oauth_client_id",
        th.StringType,
        description="Client ID of the Connected Application (SM303010), like `GUID@Tenant`.",
    ),
    th.Property(
        "oauth_client_secret",
        th.StringType,
        secret=True,
        description="Shared secret of the Connected Application.",
    ),
    th.Property(
        "oauth_scope",
        th.StringType,
        default=DEFAULTS["oauth_scope"],
        description="OAuth scopes to request.",
    ),
    th.Property(
        "oauth_refresh_token",
        th.StringType,
        secret=True,
        description="Refresh token for auth_scheme OAuth (see `tap-acumatica-auth`).",
    ),
    th.Property(
        "oauth_access_token",
        th.StringType,
        secret=True,
        description="Access token for auth_scheme OAuthImplicit.",
    ),
    th.Property(
        "oauth_token_file",
        th.StringType,
        description=(
            "JSON file (mode 0600) where auth_scheme OAuth keeps the newest (rotated) refresh "
            "token and `tap-acumatica-auth` stores the tokens it obtains. Default: "
            "`$XDG_CONFIG_HOME/tap-acumatica/tokens-<hash of url and client id>.json` "
            "(`~/.config/...`). Put it on persistent storage in containers."
        ),
    ),
    th.Property(
        "schema",
        th.StringType,
        default=DEFAULTS["schema"],
        allowed_values=list(SCHEMAS),
        description=(
            "`REST`: contract-based API entities. `OData`: generic inquiries exposed via OData. "
            "`DAC`: every data access class (table) over DAC-based OData v4."
        ),
    ),
    th.Property(
        "endpoint_name",
        th.StringType,
        # No schema default: a default filled in by the SDK could not be told apart from a
        # name the user set, and a REST URL naming another endpoint would then contradict it.
        description=(
            f"Contract-based endpoint name (Web Service Endpoints screen SM207060); default "
            f"`{DEFAULTS['endpoint_name']}`, or the one named in `url`."
        ),
    ),
    th.Property(
        "endpoint_version",
        th.StringType,
        description=(
            f"Endpoint version (default {DEFAULT_ENDPOINT_VERSION}). If not set and the "
            "instance does not serve the default, the highest version the instance lists "
            "is used (and logged)."
        ),
    ),
    th.Property(
        "entities",
        th.ArrayType(th.StringType),
        description='Discover only these entities (e.g. `["Customer", "SalesOrder"]`).',
    ),
    th.Property(
        "odata_url_style",
        th.StringType,
        # No schema default (see endpoint_name): `auto` unless set or implied by `url`.
        allowed_values=list(ODATA_URL_STYLES),
        description=(
            "With schema OData: `v4` reads `<url>/t/<company>/api/odata/gi/` (OData v4, "
            "2024 R2+), `legacy` reads `<url>/odata/<company>/` (OData v3; `company` may be "
            "empty on single-tenant sites), `auto` (the default, unless `url` is an OData URL "
            "of one family) tries v4 then legacy and logs which it uses. "
            "With schema DAC: `v4` reads `<url>/t/<company>/api/odata/dac/`, `legacy` "
            "`<url>/ODatav4/<company>/`."
        ),
    ),
    th.Property(
        "dacs",
        th.ArrayType(th.StringType),
        description=(
            "With schema DAC: discover only these DACs, by short name (`SOOrder`) or "
            'qualified name (`PX_Objects_SO_SOOrder`), e.g. `["SOOrder", "SOLine"]`.'
        ),
    ),
    th.Property(
        "detect_deletes",
        th.BooleanType,
        default=DEFAULTS["detect_deletes"],
        description=(
            "With schema DAC: each incremental run also reads the DAC's deleted-records feed "
            "(needs Deleted Records Tracking, SM207010) and soft-deleted rows, and emits "
            "removed records with `_sdc_deleted_at` set; `NoteID` becomes the stream's key."
        ),
    ),
    th.Property(
        "include_archived",
        th.BooleanType,
        default=DEFAULTS["include_archived"],
        description=(
            "With schema REST or DAC: also read archived records (Acumatica 2023 R2+ data "
            "archiving moves old closed documents to an archive, hidden from the API "
            "unless asked for): every data request sends `PX-ApiArchive: SHOW`. Costs "
            "reads of the archive tables and more rows per first load; `false` leaves "
            "archived records out, as Acumatica does by default."
        ),
    ),
    th.Property(
        "inquiries",
        th.ArrayType(th.StringType),
        description=(
            "With schema OData: discover only these generic inquiries (entity set names as "
            'exposed, e.g. `["Customer Contacts", "BI-SalesOrders"]`).'
        ),
    ),
    th.Property(
        "inquiry_parameters",
        th.ObjectType(additional_properties=th.ObjectType(additional_properties=True)),
        description=(
            "With schema OData: parameter values of parameterised inquiries, by inquiry, e.g. "
            '`{"Item Availability Data": {"Warehouse": "MAIN"}}`. Parameterised '
            "inquiries without an entry here are not discovered."
        ),
    ),
    th.Property(
        "inquiry_replication_keys",
        th.ObjectType(additional_properties=th.StringType),
        description=(
            "With schema OData: makes inquiries incremental on a date-time column, e.g. "
            '`{"BI-SalesOrders": "LastModifiedOn"}`. Other inquiries are read in full. A '
            "shortcut for choosing `replication-key` in the catalog (Meltano: `metadata:`)."
        ),
    ),
    th.Property(
        "discover_custom_fields",
        th.BooleanType,
        default=DEFAULTS["discover_custom_fields"],
        description=(
            "Call `$adHocSchema` for each entity at discovery and offer its custom fields "
            "as `custom__<View>__<Field>` properties (deselected by default)."
        ),
    ),
    th.Property(
        "custom_fields",
        th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
        description=(
            "Custom fields to extract per entity without discovering all of them, e.g. "
            '`{"SalesOrder": ["Document.UsrExternalRef"]}` (emitted as '
            "`custom__Document__UsrExternalRef`)."
        ),
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        description=(
            "Earliest modification time to extract on the first run of an incremental "
            "stream (ISO 8601; without an offset it is UTC)."
        ),
    ),
    th.Property(
        "emit_activate_version_messages",
        th.BooleanType,
        default=DEFAULTS["emit_activate_version_messages"],
        description=(
            "Send ACTIVATE_VERSION with each full-table stream, so a target (e.g. "
            "target-postgres) marks or removes the rows that are no longer in the ERP."
        ),
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        default=DEFAULTS["page_size"],
        description="Records per request (`$top`).",
    ),
    th.Property(
        "max_concurrent_requests",
        th.IntegerType,
        default=DEFAULTS["max_concurrent_requests"],
        description=(
            "Requests in flight at once, across all streams. Acumatica licences cap "
            "concurrent API requests; keep this at or below your licence's limit."
        ),
    ),
    th.Property(
        "max_requests_per_minute",
        th.IntegerType,
        description="Optional client-side cap on requests per minute (licence courtesy).",
    ),
    th.Property(
        "settle_seconds",
        th.IntegerType,
        default=DEFAULTS["settle_seconds"],
        description=(
            "Safety margin for incremental runs. A run reads every change saved before it "
            "started (up to the ERP server's clock), but its bookmark stays this many "
            "seconds behind, so the next run reads those last seconds again: records "
            "stamped by a long transaction (a big release, a mass update, an import) that "
            "commits up to this long after it saved them are not lost. The price is a few "
            "duplicates (at-least-once delivery): records changed in those seconds are "
            "emitted again by the next run; targets that upsert on the key absorb them. "
            "Raise it if your longest transactions take longer."
        ),
    ),
    th.Property(
        "progress_interval_seconds",
        th.IntegerType,
        default=DEFAULTS["progress_interval_seconds"],
        description="How often a long stream logs its progress (records, rate, window).",
    ),
    th.Property(
        "request_timeout",
        th.IntegerType,
        default=DEFAULTS["request_timeout"],
        description="Seconds to wait for one HTTP response.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=DEFAULTS["max_retries"],
        description=(
            "Attempts per request (the first one included) for 429, 5xx, 409 long "
            "operations, timeouts, dropped connections and cut-off responses."
        ),
    ),
    th.Property(
        "backoff_factor",
        th.NumberType,
        default=DEFAULTS["backoff_factor"],
        description=(
            "Seconds before the first retry; each further retry waits twice as long "
            "(with random jitter), up to `backoff_max_seconds`. A `Retry-After` header "
            "from the server takes precedence."
        ),
    ),
    th.Property(
        "backoff_max_seconds",
        th.NumberType,
        default=DEFAULTS["backoff_max_seconds"],
        description="Longest wait between two attempts of one request (without Retry-After).",
    ),
    th.Property(
        "login_limit_wait_seconds",
        th.IntegerType,
        default=DEFAULTS["login_limit_wait_seconds"],
        description=(
            "When the login is refused because all API seats are taken (API Login Limit), "
            "keep retrying the login with backoff for up to this many seconds before "
            "failing. 0 fails at once. Idle sessions expire after about 10 minutes, so "
            "values up to 900 make sense for scheduled loads."
        ),
    ),
    th.Property(
        "verify_ssl",
        th.BooleanType,
        default=DEFAULTS["verify_ssl"],
        description="Verify the server's TLS certificate. Disabling it is logged as a warning.",
    ),
    th.Property(
        "ca_bundle",
        th.StringType,
        description="Path to a CA bundle (PEM) for instances with a private certificate.",
    ),
    th.Property(
        "user_agent",
        th.StringType,
        description="User-Agent header (default `tap-acumatica/<version>`).",
    ),
).to_dict()
