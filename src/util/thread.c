/* thread.c: see thread.h. The new thread inherits the signal mask of its creator,
 * so the creator blocks everything for the moment of pthread_create and then
 * restores its own mask.
 */
#include "util/thread.h"

#include <signal.h>

int thread_start(pthread_t *t, bool detached, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc != 0)
        return rc;
    if (detached)
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(t, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc;
}
