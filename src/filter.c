/* Filter states: what a membership accepts, as data the platform applies and
 * the receive path checks. Depends only on the address leaf. */
#include <string.h>

#include "filter.h"

void mcrx__filter_none(mcrx__filter *f, const mcrx_ip *group) {
    f->group = *group;
    f->mode = MCRX__INCLUDE;
    f->nsources = 0;
    f->sources = NULL;
}

void mcrx__filter_of_config(mcrx__filter *f, const mcrx_subscription_config *cfg,
                            mcrx_ip *sources) {
    mcrx__filter_none(f, &cfg->group);
    if (mcrx_subscription_config_is_ssm(cfg)) {
        sources[0] = cfg->source;
        f->sources = sources;
        f->nsources = 1;
    } else {
        f->mode = MCRX__EXCLUDE;
    }
}

int mcrx__filter_has(const mcrx__filter *f, const mcrx_ip *source) {
    size_t i;
    for (i = 0; i < f->nsources; i++)
        if (mcrx_ip_equal(&f->sources[i], source))
            return 1;
    return 0;
}

int mcrx__filter_accepts(const mcrx__filter *f, const mcrx_ip *source) {
    /* ASM, the common case, decides without a loop. */
    if (f->nsources == 0)
        return f->mode == MCRX__EXCLUDE;
    return mcrx__filter_has(f, source) == (f->mode == MCRX__INCLUDE);
}

int mcrx__filter_is_none(const mcrx__filter *f) {
    return f->mode == MCRX__INCLUDE && f->nsources == 0;
}

int mcrx__filter_equal(const mcrx__filter *a, const mcrx__filter *b) {
    size_t i;
    if (a->mode != b->mode || a->nsources != b->nsources || !mcrx_ip_equal(&a->group, &b->group))
        return 0;
    for (i = 0; i < a->nsources; i++)
        if (!mcrx__filter_has(b, &a->sources[i]))
            return 0;
    return 1;
}
