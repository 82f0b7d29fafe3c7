/* Thread primitives the core needs, over the platform's threads (POSIX here). */
#ifndef MCRX_THREADS_H
#define MCRX_THREADS_H

#include <pthread.h>

typedef pthread_mutex_t mcrx__mutex;
#define mcrx__mutex_init(m) pthread_mutex_init((m), NULL)
#define mcrx__mutex_destroy(m) pthread_mutex_destroy(m)
#define mcrx__mutex_lock(m) pthread_mutex_lock(m)
#define mcrx__mutex_unlock(m) pthread_mutex_unlock(m)

/* Always waited on with the context lock held, in a loop re-checking state. */
typedef pthread_cond_t mcrx__cond;
#define mcrx__cond_init(c) pthread_cond_init((c), NULL)
#define mcrx__cond_destroy(c) pthread_cond_destroy(c)
#define mcrx__cond_wait(c, m) pthread_cond_wait((c), (m))
#define mcrx__cond_broadcast(c) pthread_cond_broadcast(c)

typedef pthread_t mcrx__thread;
#define mcrx__thread_create(t, fn, arg) pthread_create((t), NULL, (fn), (arg))
#define mcrx__thread_join(t) pthread_join((t), NULL)
#define mcrx__thread_self() pthread_self()
#define mcrx__thread_is_self(t) pthread_equal((t), pthread_self())

#endif
