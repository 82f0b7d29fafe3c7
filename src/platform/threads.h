/* Thread primitives the core needs, over the platform's threads: POSIX
 * threads, or Windows' own (slim reader/writer locks, condition variables,
 * _beginthreadex). */
#ifndef MCRX_THREADS_H
#define MCRX_THREADS_H

#if defined(_WIN32)

/* Winsock 2 before windows.h, as Windows requires. */
#include "sysnet.h"
#include <process.h>
#include <stdlib.h>

typedef SRWLOCK mcrx__mutex;
#define mcrx__mutex_init(m) InitializeSRWLock(m)
#define mcrx__mutex_destroy(m) ((void)(m)) /* an SRW lock holds no resources */
#define mcrx__mutex_lock(m) AcquireSRWLockExclusive(m)
#define mcrx__mutex_unlock(m) ReleaseSRWLockExclusive(m)

/* Always waited on with the context lock held, in a loop re-checking state. */
typedef CONDITION_VARIABLE mcrx__cond;
#define mcrx__cond_init(c) InitializeConditionVariable(c)
#define mcrx__cond_destroy(c) ((void)(c))
#define mcrx__cond_wait(c, m) SleepConditionVariableSRW((c), (m), INFINITE, 0)
#define mcrx__cond_broadcast(c) WakeAllConditionVariable(c)

typedef struct mcrx__thread {
    HANDLE handle;
    DWORD id;
} mcrx__thread;

typedef struct mcrx__thread_start_ {
    void *(*fn)(void *);
    void *arg;
} mcrx__thread_start_;

static inline unsigned __stdcall mcrx__thread_main_(void *p) {
    mcrx__thread_start_ s = *(mcrx__thread_start_ *)p;
    free(p);
    s.fn(s.arg);
    return 0;
}

/* 0 on success, like pthread_create. */
static inline int mcrx__thread_create(mcrx__thread *t, void *(*fn)(void *), void *arg) {
    mcrx__thread_start_ *s = malloc(sizeof *s);
    unsigned id = 0;
    uintptr_t h;
    if (s == NULL)
        return -1;
    s->fn = fn;
    s->arg = arg;
    h = _beginthreadex(NULL, 0, mcrx__thread_main_, s, 0, &id);
    if (h == 0) {
        free(s);
        return -1;
    }
    t->handle = (HANDLE)h;
    t->id = id;
    return 0;
}

static inline void mcrx__thread_join(mcrx__thread t) {
    WaitForSingleObject(t.handle, INFINITE);
    CloseHandle(t.handle);
}

static inline mcrx__thread mcrx__thread_self(void) {
    mcrx__thread t;
    t.handle = NULL;
    t.id = GetCurrentThreadId();
    return t;
}

#define mcrx__thread_is_self(t) ((t).id == GetCurrentThreadId())

#else

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

#endif
