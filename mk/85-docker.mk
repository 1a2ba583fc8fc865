# Containers: FROM-scratch images built by Docker, the compose cluster, the failover suite.
#
#   make images   deploy/build-images.sh: debian:bookworm (pulled, or made locally by
#                 deploy/base-image.sh), then compose build of vesper/vesperd,
#                 vesper/client and vesper/itest; the compiling happens inside Docker
#   make up       images + compose up -d, then waits until every node answers /ready
#                 (it knows a leader and has caught up); prints the times; then builds
#                 the host CLI build/vesper on Debian hosts (make deps)
#   make down     compose down (volumes kept; `make down-v` also removes them)
#   make itest    images + the whole suite: compose up, tests/integration, compose down -v
#   make check-manifests   compose file, ip_list.txt and deploy/k8s agree
# Compose v2 (`docker compose`) is used when present, else v1 (`docker-compose`).
# `make test` runs the suite when `docker info` succeeds and prints a skip line otherwise.

ITEST_SRC := tests/integration/itest_main.c tests/integration/itest_scen.c \
             tests/integration/itest_scen_kill.c tests/integration/itest_scen_outage.c \
             tests/integration/itest_load.c \
             tests/integration/itest_multi.c tests/integration/itest_cluster.c \
             tests/integration/itest_watch.c tests/integration/itest_watch_check.c \
             tests/integration/docker_api.c
ITEST_OBJS := $(call obj,$(ITEST_SRC) $(VCLIENT_SRC) $(LINCHECK_SRC))

# The driver includes client/vclient.h, which lives outside -Isrc -Itests.
$(call obj,$(ITEST_SRC)): EXTRA_CFLAGS += -I.

# The Dockerfile's build stage runs this rule for the itest image; it builds on a host too.
$(BUILD)/vesper-itest: $(ITEST_OBJS)
	$(CC) $^ $(CURL_LIBS) -lpthread -o $@

# The project of `make up`/`make down` (containers vesper_vesper0_1 or vesper-vesper0-1);
# .env names the same one for a plain `docker compose` in this folder.
COMPOSE_PROJECT ?= vesper

.PHONY: images up down down-v itest check-manifests
# No host toolchain or `make deps` needed: only Docker and compose.
images:
	deploy/build-images.sh $(BUILD)

# Then the host CLI of the README's quick start, where deploy/deps.sh can install its
# build dependencies (Debian); elsewhere the client container does the same job.
up: images
	COMPOSE_PROJECT_NAME=$(COMPOSE_PROJECT) tests/integration/compose.sh up
	@if command -v apt-get >/dev/null; then \
	    $(MAKE) --no-print-directory deps && $(MAKE) --no-print-directory $(BUILD)/vesper; \
	else \
	    echo "up: no host CLI (make deps needs Debian); use the client container:"; \
	    echo "    docker compose --profile client run --rm client get name"; \
	fi

down:
	COMPOSE_PROJECT_NAME=$(COMPOSE_PROJECT) tests/integration/compose.sh down

down-v:
	COMPOSE_PROJECT_NAME=$(COMPOSE_PROJECT) tests/integration/compose.sh down -v

itest: images
	tests/integration/run.sh --no-build

check-manifests:
	deploy/check-manifests.sh

# make test: the suite builds the images itself (run.sh, through Docker).
TEST_SUITES += "tests/integration/run.sh" "deploy/check-manifests.sh"
