# The backup suite (tests/backup): `vesper snapshot save` and `status` and `vesperd --restore`
# against three-node clusters of the sanitizer build on 127.0.0.1:17800-17849, including a
# leader killed during a save, damaged files and the cluster identity between an old and a
# restored cluster. `make test-backup` runs it alone; it binds ports, so take the lock:
#   flock /tmp/vesper-ports.lock make test-backup
BACKUP_TEST_BINS := $(BUILD)/vesperd-san $(BUILD)/vesper $(BUILD)/cluster-tool
TEST_BINS += $(BACKUP_TEST_BINS)
TEST_SUITES += "tests/backup/run.sh"

.PHONY: test-backup
test-backup: $(BACKUP_TEST_BINS)
	tests/backup/run.sh

# The same against containers (tests/integration/backup.sh): back up the compose cluster
# from the host, restore every node of a second compose project (another project name,
# ports 17813-17817, its own volumes) in one-off containers, compare every key. Needs
# Docker and compose; the images are built first (`make images`).
.PHONY: backup-test
backup-test: images $(BUILD)/vesper
	tests/integration/backup.sh --no-build
