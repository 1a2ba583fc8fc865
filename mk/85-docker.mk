# Containers (issue 6): FROM-scratch images, the compose cluster, the failover suite.
#
#   make images   build vesperd, vesper, vesper-itest, then deploy/build-images.sh
#                 (images vesper/vesperd, vesper/client, vesper/itest; nothing is pulled)
#   make up       images + compose up -d, then waits until every node answers /ready
#                 (it knows a leader and has caught up) and returns; prints the times
#   make down     compose down (volumes kept; `make down-v` also removes them)
#   make itest    images + the whole suite: compose up, tests/integration, compose down -v
#   make check-manifests   compose file, ip_list.txt and deploy/k8s agree
# Compose v2 (`docker compose`) is used when present, else v1 (`docker-compose`).
# `make test` runs the suite when `docker info` succeeds and prints a skip line otherwise.

ITEST_SRC := tests/integration/itest_main.c tests/integration/itest_scen.c \
             tests/integration/itest_load.c tests/integration/itest_cluster.c \
             tests/integration/docker_api.c
ITEST_OBJS := $(call obj,$(ITEST_SRC) $(VCLIENT_SRC) $(LINCHECK_SRC))

# The driver includes client/vclient.h, which lives outside -Isrc -Itests.
$(call obj,$(ITEST_SRC)): EXTRA_CFLAGS += -I.

$(BUILD)/vesper-itest: $(ITEST_OBJS)
	$(CC) $^ $(CURL_LIBS) -lpthread -o $@

# The project of `make up`/`make down` (containers vesper_vesper0_1 or vesper-vesper0-1).
COMPOSE_PROJECT ?= vesper
IMAGE_BINS := $(BUILD)/vesperd $(BUILD)/vesper $(BUILD)/vesper-itest

.PHONY: images up down down-v itest check-manifests
images: $(IMAGE_BINS)
	deploy/build-images.sh $(BUILD)

up:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory images
	COMPOSE_PROJECT_NAME=$(COMPOSE_PROJECT) tests/integration/compose.sh up

down:
	COMPOSE_PROJECT_NAME=$(COMPOSE_PROJECT) tests/integration/compose.sh down

down-v:
	COMPOSE_PROJECT_NAME=$(COMPOSE_PROJECT) tests/integration/compose.sh down -v

itest: images
	tests/integration/run.sh --no-build

check-manifests:
	deploy/check-manifests.sh

# make test: the suite builds the images itself (run.sh), after these binaries exist.
TEST_BINS += $(IMAGE_BINS)
TEST_SUITES += "tests/integration/run.sh" "deploy/check-manifests.sh"
