# The replica (src/replica): the Ready loop over the core, storage and state
# machine, shared by vesperd and the simulation. No h2o.
REPLICA_SRC := $(sort $(wildcard src/replica/*.c))
