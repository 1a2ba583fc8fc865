/* thread.h: starting the process's helper threads (storage's sync and release threads,
 * vesperd's install threads) so that they never take a signal: every signal stays
 * with the threads that handle it (the event loop).
 */
#ifndef VESPER_UTIL_THREAD_H
#define VESPER_UTIL_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/* pthread_create with every signal blocked in the new thread; detached when asked.
 * Returns 0 or pthread_create's error. */
int thread_start(pthread_t *t, bool detached, void *(*fn)(void *), void *arg);

#endif
