# The front door. `make run` starts the local stack, `make test` runs every check the project has.
# Both create the environments they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
TOOLS := .venv-tools
CHECKOV_ENV := .venv-checkov
PY := $(VENV)/bin/python
SAM := $(TOOLS)/bin/sam
CFN_LINT := $(TOOLS)/bin/cfn-lint
REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
# The import roots of the layer, the functions and the dev-only local stack (pytest reads the same list
# from pyproject.toml).
SOURCES := PYTHONPATH=layers/posthorn:functions/send:functions/bounce:functions/worker:functions/webhooks:functions/console:services/smtp_relay:local:.
export AWS_DEFAULT_REGION ?= $(REGION)


.PHONY: admin-credential run test lint typecheck unit integration e2e browser validate checkov build deploy relay-image bench openapi layer-requirements clean

# --- environments: the app's own, and a separate one for the SAM CLI and cfn-lint (they pin boto3/pydantic)
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check '.[dev]'
	touch $@

$(TOOLS)/.installed: requirements/tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements/tools.txt
	touch $@

# checkov pins boto3 (requirements/checkov.txt) to a version the SAM CLI's cannot share: a third environment.
$(CHECKOV_ENV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_ENV)
	$(CHECKOV_ENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(CHECKOV_ENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	touch $@

venv: $(VENV)/.installed
tools: $(TOOLS)/.installed

# --- the two commands of the README
run: $(VENV)/.installed
	$(SOURCES) $(PY) -m posthorn_local

test: lint typecheck validate checkov build unit integration e2e

# --- checks
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/layer_requirements.py --check
	$(SOURCES) $(VENV)/bin/lint-imports

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy layers/posthorn/posthorn functions/send functions/bounce functions/worker functions/webhooks functions/console services/smtp_relay/smtp_relay local/posthorn_local

# Both ways a stack can be deployed: as it is, and with the SMTP relay enabled (scripts/relay_enabled_template.py).
validate: $(TOOLS)/.installed
	$(CFN_LINT) template.yaml
	$(SAM) validate --lint --region $(REGION)
	$(PYTHON) scripts/relay_enabled_template.py .aws-sam/relay-enabled/template.yaml
	$(CFN_LINT) .aws-sam/relay-enabled/template.yaml
	$(SAM) validate --lint --region $(REGION) -t .aws-sam/relay-enabled/template.yaml

# checkov over both ways the stack can be deployed. Every check it skips is skipped in template.yaml, next to
# the resource, with the reason (Metadata: checkov: skip); any failed check fails the target. Offline
# (--skip-download): it does not fetch Prisma Cloud's guidelines.
checkov: $(CHECKOV_ENV)/.installed
	$(PYTHON) scripts/relay_enabled_template.py .aws-sam/relay-enabled/template.yaml
	$(CHECKOV_ENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
	  -f template.yaml -f .aws-sam/relay-enabled/template.yaml

# The layer is built by layers/posthorn/Makefile (BuildMethod: makefile) with its bytecode; the check fails
# the build if any module of the built layer would be compiled on Lambda's cold start instead.
build: $(TOOLS)/.installed
	$(SAM) build --region $(REGION) --parallel --cached
	$(PYTHON) scripts/check_layer_bytecode.py

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit -q

integration: $(VENV)/.installed
	$(PY) -m pytest tests/integration -q

e2e: $(VENV)/.installed browser smtp-clients webhook-verifiers sdk-clients
	$(PY) -m pytest tests/e2e -q

# The browser tests drive Debian's Chromium (Playwright's own browser downloads are not used).
browser:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y --no-install-recommends chromium)

# The SMTP clients of tests/e2e/test_smtp_clients.py: Debian's PHP with PHPMailer and Symfony Mailer, and
# Nodemailer from its lock file (Node.js 20+ and npm must be on the machine; Django comes with the dev extras).
NODEMAILER := tests/e2e/clients/nodemailer
.PHONY: smtp-clients
smtp-clients: $(NODEMAILER)/node_modules/.installed
	@test -x /usr/bin/php && test -f /usr/share/php/libphp-phpmailer/autoload.php \
	  && test -f /usr/share/php/Symfony/Component/Mailer/autoload.php \
	  || (apt-get update && apt-get install -y --no-install-recommends php-cli libphp-phpmailer php-symfony-mailer)

$(NODEMAILER)/node_modules/.installed: $(NODEMAILER)/package.json $(wildcard $(NODEMAILER)/package-lock.json)
	@command -v npm >/dev/null || { echo "smtp-clients: Nodemailer needs Node.js 20+ with npm" >&2; exit 1; }
	cd $(NODEMAILER) && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	touch $@

# The Node webhook verifiers of tests/e2e/test_webhooks_local.py (standardwebhooks and svix from npm, from
# their lock file), as the README's Node example uses them.
WEBHOOK_VERIFIERS := tests/e2e/clients/webhook-verifiers
.PHONY: webhook-verifiers
webhook-verifiers: $(WEBHOOK_VERIFIERS)/node_modules/.installed

$(WEBHOOK_VERIFIERS)/node_modules/.installed: $(WEBHOOK_VERIFIERS)/package.json $(WEBHOOK_VERIFIERS)/package-lock.json
	@command -v npm >/dev/null || { echo "webhook-verifiers: Node.js 20+ with npm is needed" >&2; exit 1; }
	cd $(WEBHOOK_VERIFIERS) && npm ci --no-audit --no-fund
	touch $@

# The vendors' own SDKs that drive the compatible surfaces (tests/e2e/test_compat_*.py): one directory per
# vendor, tests/e2e/clients/sdk-<vendor>/, each installed from its own lock file.
SDK_CLIENTS := $(wildcard tests/e2e/clients/sdk-*)
.PHONY: sdk-clients
sdk-clients: $(addsuffix /node_modules/.installed,$(SDK_CLIENTS))

tests/e2e/clients/sdk-%/node_modules/.installed: tests/e2e/clients/sdk-%/package.json tests/e2e/clients/sdk-%/package-lock.json
	@command -v npm >/dev/null || { echo "sdk-clients: the vendors' SDKs need Node.js 20+ with npm" >&2; exit 1; }
	cd tests/e2e/clients/sdk-$* && npm ci --no-audit --no-fund
	touch $@

deploy: build
	$(SAM) deploy $(if $(CONFIG_ENV),--config-env $(CONFIG_ENV),)

admin-credential: $(VENV)/.installed
	$(SOURCES) $(PY) scripts/create_admin.py --stack $(or $(STACK),$(if $(filter prod,$(CONFIG_ENV)),posthorn-prod,posthorn-dev))

# The SMTP relay's image, pushed to the stack's repository (output SmtpRelayRepositoryUri); needs Docker with
# buildx and the AWS CLI, so it runs on a deploy machine. The relay's tasks are ARM64 (Graviton): the image is
# built for linux/arm64, natively on an arm64 machine, under QEMU emulation elsewhere (Docker Desktop has it;
# on Linux, once: docker run --privileged --rm tonistiigi/binfmt --install arm64). No provenance attestation:
# ECR would keep it as an untagged image of its own, counted by the repository's keep-10 lifecycle rule.
# TAG defaults to the commit (-dirty with uncommitted changes). It prints the deploy that moves the relay onto
# the image (docs/deploy.md, "SMTP relay").
relay-image: STACK_NAME = $(or $(STACK),$(if $(filter prod,$(CONFIG_ENV)),posthorn-prod,posthorn-dev))
relay-image: TAG ?= $(shell git describe --always --dirty --exclude='*')
relay-image:
	@set -euo pipefail; tag="$(TAG)"; \
	uri=$$(aws cloudformation describe-stacks --region $(REGION) --stack-name $(STACK_NAME) --output text \
	  --query "Stacks[0].Outputs[?OutputKey=='SmtpRelayRepositoryUri'].OutputValue"); \
	if [ -z "$$uri" ] || [ "$$uri" = None ]; then \
	  echo "$(STACK_NAME) has no SmtpRelayRepositoryUri output: deploy it with EnableSmtpRelay=true first" >&2; exit 1; fi; \
	aws ecr get-login-password --region $(REGION) | docker login --username AWS --password-stdin "$${uri%%/*}"; \
	docker buildx build --platform linux/arm64 --provenance=false --push \
	  -f services/smtp_relay/Dockerfile -t "$$uri:$$tag" .; \
	echo "Pushed $$uri:$$tag. Roll it out (the first time, add SmtpRelayDesiredCount=2):"; \
	echo "  make build && $(SAM) deploy $(if $(CONFIG_ENV),--config-env $(CONFIG_ENV) ,)--parameter-overrides SmtpRelayImageTag=$$tag"

bench: $(VENV)/.installed
	$(PY) bench/run.py

# --- generated files
openapi: $(VENV)/.installed
	$(SOURCES) $(PY) scripts/openapi.py --write

layer-requirements: $(VENV)/.installed
	$(PY) scripts/layer_requirements.py --write

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV_ENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache
