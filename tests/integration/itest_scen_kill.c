/* itest_scen_kill.c: the kill-leader scenario: the leader's container gets SIGKILL (docker
 * kill), with no chance to close its connections or finish a write. A new leader must
 * appear and acknowledge writes within the election deadline; started again, the killed
 * node must apply everything committed without it. Watchers are moved to the leader
 * first, so their streams break mid-flight and resume elsewhere (itest_watch.c).
 */
#include "integration/itest.h"
#include "integration/itest_watch.h"

#define ITEST_KILL_ELECT_MS   5000  /* as itest_scen.c: a new leader and the first write */
#define ITEST_KILL_CATCHUP_MS 15000 /* the killed node applies what was committed */

void itest_scen_kill_leader(struct itest_ctx *x)
{
    const char *name = "kill-leader";
    struct itest_status st;
    int old = itest_scen_begin(x, name, &st);
    if (old < 0)
        return;
    if (x->watch)
        itest_watch_aim(x->watch, old);
    int64_t t0 = itest_now_us();
    if (itest_op(x->c, old, "kill") != 0) {
        itest_result(x, name, false, "docker kill failed");
        return;
    }
    long kill_ms = itest_ms_since(t0);
    itest_load_mark(x->load); /* writes invoked once the old leader is dead */
    int nl = itest_wait_leader(x->c, 1u << old, -1, ITEST_KILL_ELECT_MS, &st);
    long elect_ms = itest_ms_since(t0);
    long write_ms = itest_load_wait_write(x->load, ITEST_KILL_ELECT_MS);
    int64_t t1 = itest_now_us();
    bool started = itest_op(x->c, old, "start") == 0;
    itest_scen_renew(x);
    int rc = -1;
    if (started && itest_wait_leader(x->c, 1u << old, -1, ITEST_KILL_ELECT_MS, &st) >= 0)
        rc = itest_wait_applied(x->c, old, st.commit, ITEST_KILL_CATCHUP_MS);
    itest_result(x, name, nl >= 0 && write_ms >= 0 && rc == 0,
                 "killed %s (docker kill %ld ms); new leader %s after %ld ms; first write "
                 "acknowledged %ld ms after the kill; started again, %s commit index %llu in "
                 "%ld ms",
                 x->c->nodes[old].service, kill_ms, nl >= 0 ? x->c->nodes[nl].service : "none",
                 elect_ms, write_ms, rc == 0 ? "applied the" : "DID NOT apply the",
                 (unsigned long long)st.commit, itest_ms_since(t1));
}
