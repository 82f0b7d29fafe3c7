/* Thread primitives the core needs, over the platform's threads (POSIX here). */
#ifndef MCRX_THREADS_H
#define MCRX_THREADS_H

#include <pthread.h>

typedef pthread_mutex_t mcrx__mutex;
#define mcrx__mutex_init(m) pthread_mutex_init((m), NULL)
#define mcrx__mutex_destroy(m) pthread_mutex_destroy(m)
#define mcrx__mutex_lock(m) pthread_mutex_lock(m)
#define mcrx__mutex_unlock(m) pthread_mutex_unlock(m)

typedef pthread_t mcrx__thread;
#define mcrx__thread_create(t, fn, arg) pthread_create((t), NULL, (fn), (arg))
#define mcrx__thread_join(t) pthread_join((t), NULL)
#define mcrx__thread_is_self(t) pthread_equal((t), pthread_self())

#endif
