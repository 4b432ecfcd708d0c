# ruff: noqa: E501  (data: one memory per line reads better than wrapped strings)
"""Two small hand-written corpora of project memory unlike LoCoMo's dialogue: decisions,
facts, preferences and code conventions of software projects, a few long documents.

``FIT`` is what the relevance calibration is fitted on (``benchmarks/calibrate.py``);
``CHECK`` is a different set of projects, used only to check the calibration and the
abstention (``bench_quality.py``). Each query names the memories that answer it; asked in
another project of the same corpus it has no answer there (the "foreign" case).

``FIT`` and ``CHECK`` are the notes as first written (``FIT_NOTES``, ``CHECK_NOTES``)
with their ``NAMED_FIT`` / ``NAMED_CHECK`` additions merged in (``with_named``): questions
that name a person, service, library or file that the own project's notes hold and the
other projects never mention, the case of LoCoMo's worst foreign passes ("What is Nate's
favorite genre of movies?"). Tried alone as fit data for the ``unknown`` part they made no
better calibration; they are what lets a fit weigh the ``unnamed`` share (calibration v4,
``results/recall_ideas.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CHECK",
    "CHECK_NOTES",
    "FIT",
    "FIT_NOTES",
    "NAMED_CHECK",
    "NAMED_FIT",
    "CorpusProject",
    "with_named",
]


@dataclass
class CorpusProject:
    name: str
    memories: list[tuple[str, str]]
    """(kind, text)."""
    queries: list[tuple[str, list[int]]] = field(default_factory=list)
    """(query, indices of the memories that answer it)."""


FIT_NOTES: list[CorpusProject] = [
    CorpusProject(
        "shop-backend",
        [
            (
                "decision",
                "Orders are stored in PostgreSQL; the cart lives in Redis with a 7 day TTL.",
            ),
            (
                "decision",
                "Payments go through Stripe; we never store card numbers, only Stripe customer ids.",
            ),
            ("rule", "Every money amount is an integer number of cents, never a float."),
            (
                "fact",
                "The checkout endpoint is POST /api/checkout and it is idempotent by Idempotency-Key header.",
            ),
            (
                "preference",
                "Prefer small pull requests under 300 lines; reviewers skim bigger ones.",
            ),
            (
                "fact",
                "Product images are resized by a Lambda function into 3 sizes and kept in S3.",
            ),
            (
                "decision",
                "Search over the catalogue uses Meilisearch, reindexed nightly at 02:00 UTC.",
            ),
            (
                "fact",
                "VAT rates per country are in the tax_rates table, updated by the finance team.",
            ),
            (
                "decision",
                "Refunds are only issued by the support dashboard, not by the public API.",
            ),
            (
                "fact",
                "The staging environment is at staging.shop.example and is reset every Monday.",
            ),
            ("preference", "Use pytest fixtures instead of setUp methods in new tests."),
            (
                "fact",
                "Inventory is decremented when payment succeeds, not when the order is placed.",
            ),
            ("decision", "Shipping quotes come from the Shippo API; we cache them for 10 minutes."),
            ("fact", "Discount codes are case-insensitive and can be used once per customer."),
            ("rule", "Never log customer email addresses or postal addresses."),
            ("fact", "The order confirmation email is rendered with MJML templates in emails/."),
        ],
        [
            ("where is the shopping cart kept", [0]),
            ("how do we handle credit card data", [1]),
            ("should prices be floats", [2]),
            ("is checkout safe to retry", [3]),
            ("how big should a pull request be", [4]),
            ("how are product photos processed", [5]),
            ("which search engine powers the catalogue", [6]),
            ("where do tax percentages come from", [7]),
            ("can the API refund an order", [8]),
            ("when is staging wiped", [9]),
            ("test setup style", [10]),
            ("when does stock go down", [11]),
            ("shipping cost estimates provider", [12]),
            ("are coupon codes case sensitive", [13]),
            ("what personal data must not appear in logs", [14]),
            ("how is the order email built", [15]),
        ],
    ),
    CorpusProject(
        "data-pipeline",
        [
            ("decision", "Raw events land in S3 as Parquet partitioned by event date."),
            (
                "decision",
                "Airflow runs the daily batch; DAGs live in the dags/ folder, one per source.",
            ),
            ("fact", "The warehouse is Snowflake; the analytics role can read but not write."),
            (
                "rule",
                "Every table in the marts schema must have a dbt test for uniqueness of its key.",
            ),
            ("fact", "Late events arriving up to 3 days after the partition date are merged in."),
            ("preference", "Name dbt models with a stg_, int_ or fct_ prefix by layer."),
            (
                "decision",
                "Personally identifying columns are hashed with SHA-256 and a salt before loading.",
            ),
            ("fact", "The clickstream source sends about 40 million events per day."),
            ("fact", "Backfills are started with the backfill.sh script and a start and end date."),
            ("decision", "Great Expectations checks run before a partition is published."),
            ("fact", "The Kafka topic for orders is orders.v2; v1 was retired in January."),
            ("preference", "Write SQL keywords in lower case and use trailing commas."),
            ("fact", "Dashboards are built in Metabase and refresh every hour."),
            (
                "decision",
                "Slowly changing dimensions use type 2 with valid_from and valid_to columns.",
            ),
        ],
        [
            ("what file format are raw events stored in", [0]),
            ("which scheduler runs the batch jobs", [1]),
            ("can analysts write to the warehouse", [2]),
            ("what tests does a mart table need", [3]),
            ("what happens to events that arrive late", [4]),
            ("naming convention for dbt models", [5]),
            ("how do we protect personal data columns", [6]),
            ("daily volume of clickstream events", [7]),
            ("how do I rerun old dates", [8]),
            ("data quality checks before publishing", [9]),
            ("which kafka topic has orders", [10]),
            ("sql formatting style", [11]),
            ("how often do dashboards update", [12]),
            ("how do we keep history of dimension changes", [13]),
        ],
    ),
    CorpusProject(
        "ml-platform",
        [
            ("decision", "Models are trained on the shared GPU cluster through Kubernetes jobs."),
            ("fact", "Experiment runs are tracked in MLflow at mlflow.internal."),
            ("decision", "Features are served from Feast with Redis as the online store."),
            ("rule", "A model can go to production only after a shadow run of at least 7 days."),
            ("fact", "The fraud model is a gradient boosted tree retrained every Sunday."),
            (
                "preference",
                "Pin every Python dependency with an exact version in requirements.lock.",
            ),
            ("fact", "Inference latency budget for the ranking model is 30 ms at p99."),
            ("decision", "Model artefacts are stored in the model registry, never in git."),
            ("fact", "Training data snapshots are kept for 90 days for reproducibility."),
            ("decision", "We use Optuna for hyperparameter search with 50 trials by default."),
            ("fact", "Drift alerts are sent to the #ml-alerts Slack channel."),
            (
                "preference",
                "Notebooks are for exploration only; production code goes in the src package.",
            ),
            (
                "fact",
                "The recommendation model embeds items with a two-tower network of 128 dimensions.",
            ),
        ],
        [
            ("where do training jobs run", [0]),
            ("where can I see experiment results", [1]),
            ("online feature store", [2]),
            ("what is required before a model ships", [3]),
            ("how often is the fraud model retrained", [4]),
            ("how should dependencies be pinned", [5]),
            ("how fast must ranking inference be", [6]),
            ("can I commit model weights to the repository", [7]),
            ("how long do we keep training snapshots", [8]),
            ("tool for tuning hyperparameters", [9]),
            ("where do drift warnings go", [10]),
            ("may I put production logic in a notebook", [11]),
            ("embedding size of the recommender", [12]),
        ],
    ),
]


CHECK_NOTES: list[CorpusProject] = [
    CorpusProject(
        "mobile-app",
        [
            (
                "decision",
                "The app is written in Kotlin Multiplatform with SwiftUI and Jetpack Compose front ends.",
            ),
            (
                "rule",
                "Never block the main thread; network and disk work go through coroutines on Dispatchers.IO.",
            ),
            ("fact", "Push notifications are sent with Firebase Cloud Messaging, also for iOS."),
            ("convention", "Screens are named FooScreen and their state holders FooViewModel."),
            ("fact", "The minimum Android version is API 26 and the minimum iOS version is 15."),
            ("decision", "Offline data is cached in SQLDelight; the cache is cleared on logout."),
            (
                "fact",
                "Release builds are signed in CI; the keystore is in the secrets vault, not the repo.",
            ),
            (
                "preference",
                "Dark mode colours come from the design tokens file, never hard-coded hex values.",
            ),
            ("fact", "Crash reports go to Sentry with the user id removed."),
            ("decision", "Feature flags are served by Unleash and evaluated at app start."),
            ("fact", "App Store review usually takes two days, so releases are cut on Tuesdays."),
            (
                "fact",
                "Onboarding flow, as agreed with design in the spring review: the first screen asks "
                "for the language, the second explains the three main features with one illustration "
                "each, the third asks for notification permission and can be skipped; analytics "
                "events onboarding_step_1 to onboarding_step_3 are sent as each screen is shown, and "
                "a user who skips the permission is asked again only after their third session.",
            ),
        ],
        [
            ("which UI toolkit do we use on Android", [0]),
            ("where should network calls run", [1]),
            ("how are push messages delivered to iPhones", [2]),
            ("naming of view models", [3]),
            ("oldest supported android version", [4]),
            ("what happens to cached data when the user signs out", [5]),
            ("where is the signing keystore", [6]),
            ("can I write a colour as a hex literal", [7]),
            ("crash reporting tool", [8]),
            ("how are feature toggles configured", [9]),
            ("which weekday do we cut releases", [10]),
            ("when do we ask again for notification permission", [11]),
        ],
    ),
    CorpusProject(
        "infra-ops",
        [
            (
                "decision",
                "Infrastructure is managed with Terraform; state is in an S3 bucket with DynamoDB locking.",
            ),
            (
                "rule",
                "No manual changes in the AWS console for production; everything goes through a Terraform plan.",
            ),
            ("fact", "On-call rotates weekly on Mondays at 10:00 and is scheduled in PagerDuty."),
            (
                "convention",
                "Terraform modules are named after the resource they wrap, e.g. modules/rds-postgres.",
            ),
            ("fact", "Production runs in eu-west-1 with a warm standby in eu-central-1."),
            ("decision", "Logs are shipped with Vector to Loki and kept for 30 days."),
            (
                "fact",
                "TLS certificates are issued by cert-manager with Let's Encrypt and renew automatically.",
            ),
            (
                "decision",
                "Database backups are taken every 6 hours and restored into a test account weekly.",
            ),
            ("preference", "Alerts must link to a runbook page; an alert without one is deleted."),
            (
                "fact",
                "The VPN is WireGuard; new laptops get a config from the it-access repository.",
            ),
            (
                "fact",
                "Incident review from the October outage: a config push removed the health check "
                "path, the load balancer marked every instance unhealthy and traffic dropped for 18 "
                "minutes; actions agreed were a canary stage for config pushes, an alert on the "
                "share of unhealthy targets, and a second person approving changes to listeners.",
            ),
        ],
        [
            ("where is the terraform state kept", [0]),
            ("may I change production by hand in the console", [1]),
            ("when does the on-call rotation switch", [2]),
            ("how should a terraform module be named", [3]),
            ("which region hosts production", [4]),
            ("how long are logs retained", [5]),
            ("who renews the https certificates", [6]),
            ("how often are database backups made", [7]),
            ("what must every alert have", [8]),
            ("how do I get vpn access", [9]),
            ("what caused the load balancer outage", [10]),
        ],
    ),
    CorpusProject(
        "research-notes",
        [
            (
                "fact",
                "The lab's microscope booking is on the shared calendar; slots are two hours.",
            ),
            (
                "decision",
                "Samples are labelled with the date, the initials and a running number, e.g. 2024-03-01-AB-07.",
            ),
            (
                "rule",
                "Raw images are never edited; analysis works on copies in the processed folder.",
            ),
            ("fact", "The cell counting pipeline uses CellPose with the cyto2 model."),
            ("preference", "Figures use the viridis colour map and a 9 point font."),
            ("fact", "The cold room is kept at 4 degrees and its alarm calls the lab manager."),
            ("decision", "Statistics use mixed effects models with the animal as a random effect."),
            ("fact", "Grant reports are due at the end of June and December."),
            ("fact", "Reagent orders above 500 euros need the PI's approval."),
            (
                "convention",
                "Analysis notebooks start with a cell recording the git commit and the data version.",
            ),
        ],
        [
            ("how do I reserve the microscope", [0]),
            ("sample naming scheme", [1]),
            ("can I crop the original images", [2]),
            ("which segmentation model counts cells", [3]),
            ("colour map for plots", [4]),
            ("what temperature is the cold room", [5]),
            ("which statistical model do we use", [6]),
            ("when are grant reports due", [7]),
            ("who approves expensive orders", [8]),
            ("what goes at the top of a notebook", [9]),
        ],
    ),
]


def with_named(corpus: list[CorpusProject], named: list[CorpusProject]) -> list[CorpusProject]:
    """``corpus`` with each project's additions from ``named`` (same name) appended: its
    memories after the project's own, its queries' answer indices shifted to match."""
    extra = {p.name: p for p in named}
    out = []
    for p in corpus:
        e = extra.get(p.name)
        if e is None:
            out.append(p)
            continue
        n = len(p.memories)
        queries = [(q, [n + i for i in a]) for q, a in e.queries]
        out.append(CorpusProject(p.name, [*p.memories, *e.memories], [*p.queries, *queries]))
    return out


NAMED_FIT: list[CorpusProject] = [
    CorpusProject(
        "shop-backend",
        [
            (
                "decision",
                "Priya set the payment retry budget to 3 attempts with exponential backoff from 2 seconds.",
            ),
            (
                "decision",
                "We dropped redis-om in March: its models leaked connections under load, so the cart uses plain redis-py.",
            ),
            ("fact", "Tomasz owns shippo_client.py; ask him before changing its timeouts."),
            (
                "fact",
                "Sift scores every order before capture; orders scored above 80 wait for manual review.",
            ),
            (
                "decision",
                "Marco moved the invoice PDFs from wkhtmltopdf to WeasyPrint because wkhtmltopdf is unmaintained.",
            ),
        ],
        [
            ("What did Priya decide about the retry budget?", [0]),
            ("Why did we drop redis-om?", [1]),
            ("who should I ask before editing shippo_client.py", [2]),
            ("what happens when Sift flags an order", [3]),
            ("Why did Marco replace wkhtmltopdf?", [4]),
        ],
    ),
    CorpusProject(
        "data-pipeline",
        [
            (
                "decision",
                "Aisha decided a failing DAG run retries twice and then pages the data on-call.",
            ),
            (
                "fact",
                "The Fivetran connector for Zendesk syncs tickets every 6 hours into raw.zendesk.",
            ),
            (
                "decision",
                "dedupe_events.py was moved from pandas to Polars, which cut its runtime from 40 to 9 minutes.",
            ),
            (
                "fact",
                "Henrik is the contact for the Salesforce export; its API quota is 100k calls a day.",
            ),
            (
                "rule",
                "Changes to dbt_project.yml need a review from Lena, who owns the marts layer.",
            ),
        ],
        [
            ("What did Aisha decide about failing DAG runs?", [0]),
            ("how often does the Zendesk connector sync", [1]),
            ("Why does dedupe_events.py use Polars?", [2]),
            ("who do I ask about the Salesforce export", [3]),
            ("Who has to review a change to dbt_project.yml?", [4]),
        ],
    ),
    CorpusProject(
        "ml-platform",
        [
            (
                "decision",
                "Ravi chose LightGBM over XGBoost for the fraud model: it trains three times faster on the same features.",
            ),
            ("fact", "serve_ranker.py loads the model once at start and reloads it on SIGHUP."),
            (
                "decision",
                "We left Kubeflow Pipelines in May because its upgrades kept breaking; Argo Workflows runs training now.",
            ),
            ("fact", "Sofia keeps the labelling guidelines for the fraud dataset in Label Studio."),
            (
                "fact",
                "Triton Inference Server hosts the image models on the T4 nodes with dynamic batching.",
            ),
        ],
        [
            ("Why did Ravi pick LightGBM?", [0]),
            ("how does serve_ranker.py pick up a new model", [1]),
            ("Why did we stop using Kubeflow?", [2]),
            ("Where does Sofia keep the labelling guidelines?", [3]),
            ("what runs on Triton", [4]),
        ],
    ),
]


NAMED_CHECK: list[CorpusProject] = [
    CorpusProject(
        "mobile-app",
        [
            (
                "decision",
                "Keiko dropped Realm for SQLDelight after the Realm Kotlin SDK lagged behind new Kotlin releases.",
            ),
            (
                "fact",
                "DeepLinkRouter.kt maps every deep link to a screen; a new route needs a test there.",
            ),
        ],
        [("Why did Keiko drop Realm?", [0]), ("what does DeepLinkRouter.kt do", [1])],
    ),
    CorpusProject(
        "infra-ops",
        [
            (
                "decision",
                "Omar limited Atlantis to one apply at a time per workspace after two applies raced.",
            ),
            (
                "fact",
                "Grafana dashboards are provisioned from the grafana-dashboards repository; edits in the UI are overwritten.",
            ),
        ],
        [
            ("What did Omar change in Atlantis?", [0]),
            ("can I edit a Grafana dashboard in the UI", [1]),
        ],
    ),
    CorpusProject(
        "research-notes",
        [
            ("fact", "Dr. Weber keeps the antibody stock list; ask her before ordering anti-GFAP."),
            (
                "decision",
                "Jonas moved spike sorting from MountainSort to Kilosort 4 because it handles probe drift better.",
            ),
        ],
        [
            ("who do I ask before ordering anti-GFAP", [0]),
            ("Why did Jonas switch to Kilosort?", [1]),
        ],
    ),
]


FIT: list[CorpusProject] = with_named(FIT_NOTES, NAMED_FIT)
"""The calibration's fit corpus: the notes with their named additions."""
CHECK: list[CorpusProject] = with_named(CHECK_NOTES, NAMED_CHECK)
"""The held-out check corpus: the notes with their named additions."""
