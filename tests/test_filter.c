/*
 * Membership as data (src/filter.c): the receive-side check of a filter
 * state, and the calls that move a socket from one state to another,
 * recorded instead of made. No network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static const char *const op_names[] = {"ADD_GROUP", "DROP_GROUP", "ADD_SOURCE",
                                       "DROP_SOURCE", "BLOCK", "UNBLOCK"};

/* The calls made, as "OP source" lines; fail_at makes that call fail. */
typedef struct recorder {
    char log[1024];
    int calls, fail_at;
} recorder;

static mcrx_error record(void *arg, const mcrx_ip *group, const mcrx_ip *source,
                         mcrx__member_op op, mcrx__err *err) {
    recorder *r = arg;
    char text[MCRX_IP_STRLEN] = "-";
    size_t n = strlen(r->log);
    (void)group;
    if (source != NULL)
        mcrx_ip_format(source, text, sizeof text);
    snprintf(r->log + n, sizeof r->log - n, "%s%s %s", n ? ", " : "", op_names[op], text);
    if (++r->calls == r->fail_at)
        return mcrx__fail(err, MCRX_ERROR_MULTICAST_JOIN_FAILED, 105, "call %d", r->calls);
    return 0;
}

static mcrx_ip ip(const char *t) {
    mcrx_ip a;
    assert_int_equal(mcrx_ip_parse(t, &a), MCRX_ERROR_NONE);
    return a;
}

static mcrx_ip srcs[8][4];

/* A state of group 232.1.1.1 from "I a b" / "E a" / "none". */
static mcrx__filter state(int slot, const char *spec) {
    mcrx__filter f;
    char buf[128], *tok, *save = NULL;
    mcrx_ip g = ip("232.1.1.1");
    mcrx__filter_none(&f, &g);
    snprintf(buf, sizeof buf, "%s", spec);
    tok = strtok_r(buf, " ", &save);
    if (strcmp(tok, "none") == 0)
        return f;
    f.mode = tok[0] == 'E' ? MCRX__EXCLUDE : MCRX__INCLUDE;
    while ((tok = strtok_r(NULL, " ", &save)) != NULL)
        srcs[slot][f.nsources++] = ip(tok);
    f.sources = srcs[slot];
    return f;
}

static void expect(const char *from, const char *to, const char *calls) {
    recorder r;
    mcrx__err err;
    mcrx__filter a = state(0, from), b = state(1, to);
    memset(&r, 0, sizeof r);
    assert_int_equal(mcrx__filter_apply(&a, &b, record, &r, &err), 0);
    if (strcmp(r.log, calls) != 0)
        fail_msg("%s -> %s: made \"%s\", expected \"%s\"", from, to, r.log, calls);
}

static void joins_and_leaves_are_one_call_each(void **state_) {
    (void)state_;
    expect("none", "E", "ADD_GROUP -");
    expect("E", "none", "DROP_GROUP -");
    expect("none", "I 10.0.0.1", "ADD_SOURCE 10.0.0.1");
    expect("I 10.0.0.1", "none", "DROP_SOURCE 10.0.0.1");
    expect("E", "E", "");
    expect("I 10.0.0.1 10.0.0.2", "I 10.0.0.2 10.0.0.1", ""); /* order does not matter */
}

static void source_changes_add_before_they_drop(void **state_) {
    (void)state_;
    expect("none", "I 10.0.0.1 10.0.0.2", "ADD_SOURCE 10.0.0.1, ADD_SOURCE 10.0.0.2");
    expect("I 10.0.0.1 10.0.0.2", "I 10.0.0.2 10.0.0.3",
           "ADD_SOURCE 10.0.0.3, DROP_SOURCE 10.0.0.1");
    expect("none", "E 10.0.0.9", "ADD_GROUP -, BLOCK 10.0.0.9");
    expect("E 10.0.0.1", "E 10.0.0.2", "BLOCK 10.0.0.2, UNBLOCK 10.0.0.1");
    expect("E 10.0.0.1", "none", "DROP_GROUP -");
}

static void a_change_of_mode_passes_through_no_membership(void **state_) {
    (void)state_;
    expect("I 10.0.0.1", "E 10.0.0.2", "DROP_SOURCE 10.0.0.1, ADD_GROUP -, BLOCK 10.0.0.2");
    expect("E", "I 10.0.0.1", "DROP_GROUP -, ADD_SOURCE 10.0.0.1");
}

static void a_failed_call_undoes_the_ones_before_it(void **state_) {
    recorder r;
    mcrx__err err;
    mcrx__filter a = state(0, "none"), b = state(1, "I 10.0.0.1 10.0.0.2 10.0.0.3");
    (void)state_;
    memset(&r, 0, sizeof r);
    r.fail_at = 3;
    assert_int_equal(mcrx__filter_apply(&a, &b, record, &r, &err), MCRX_ERROR_MULTICAST_JOIN_FAILED);
    assert_int_equal(err.code, MCRX_ERROR_MULTICAST_JOIN_FAILED);
    assert_string_equal(r.log, "ADD_SOURCE 10.0.0.1, ADD_SOURCE 10.0.0.2, ADD_SOURCE 10.0.0.3, "
                               "DROP_SOURCE 10.0.0.1, DROP_SOURCE 10.0.0.2");
    memset(&r, 0, sizeof r);
    a = state(0, "none");
    b = state(1, "E 10.0.0.1");
    r.fail_at = 2; /* the block fails: the group is left again */
    assert_int_equal(mcrx__filter_apply(&a, &b, record, &r, &err), MCRX_ERROR_MULTICAST_JOIN_FAILED);
    assert_string_equal(r.log, "ADD_GROUP -, BLOCK 10.0.0.1, DROP_GROUP -");
}

static void the_check_accepts_what_the_state_lets_through(void **state_) {
    mcrx__filter asm_ = state(0, "E"), ssm = state(1, "I 10.0.0.1 10.0.0.2"),
                 ex = state(2, "E 10.0.0.9"), none = state(3, "none");
    mcrx_ip a = ip("10.0.0.1"), b = ip("10.0.0.2"), c = ip("10.0.0.9"), v6 = ip("2001:db8::1");
    mcrx_subscription_config cfg;
    mcrx_ip own[1];
    mcrx__filter f;
    (void)state_;
    assert_true(mcrx__filter_accepts(&asm_, &a) && mcrx__filter_accepts(&asm_, &v6));
    assert_true(mcrx__filter_accepts(&ssm, &a) && mcrx__filter_accepts(&ssm, &b));
    assert_false(mcrx__filter_accepts(&ssm, &c));
    assert_true(mcrx__filter_accepts(&ex, &a));
    assert_false(mcrx__filter_accepts(&ex, &c));
    assert_false(mcrx__filter_accepts(&none, &a));
    assert_true(mcrx__filter_is_none(&none) && !mcrx__filter_is_none(&asm_));
    /* From a config: ASM is EXCLUDE{}, SSM INCLUDE{S}. */
    assert_int_equal(mcrx_subscription_config_parse(&cfg, "232.1.1.1", 5000, "10.0.0.1", NULL),
                     MCRX_ERROR_NONE);
    mcrx__filter_of_config(&f, &cfg, own);
    assert_true(f.mode == MCRX__INCLUDE && f.nsources == 1 && mcrx__filter_has(&f, &a));
    assert_int_equal(mcrx_subscription_config_parse(&cfg, "239.1.1.1", 5000, NULL, NULL),
                     MCRX_ERROR_NONE);
    mcrx__filter_of_config(&f, &cfg, own);
    assert_true(f.mode == MCRX__EXCLUDE && f.nsources == 0);
}

/* Lists are sorted, repeats dropped, scopes cleared: the form comparisons,
 * hashes and the kernel calls use. */
static void lists_are_normalised(void **state_) {
    mcrx_ip in[6], *out = NULL;
    size_t n = 99, i;
    mcrx__err err;
    (void)state_;
    in[0] = ip("2001:db8::2");
    in[1] = ip("10.0.0.9");
    in[2] = ip("10.0.0.1");
    in[3] = ip("2001:db8::2");
    in[3].scope_id = 7; /* the same source for the kernel */
    in[4] = ip("10.0.0.9");
    in[5] = ip("10.0.0.10");
    assert_int_equal(mcrx__sources_normalise(in, 6, &out, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_true(mcrx_ip_equal(&out[0], &in[2]));
    assert_true(mcrx_ip_equal(&out[1], &in[1]));
    assert_true(mcrx_ip_equal(&out[2], &in[5]));
    assert_true(mcrx_ip_equal(&out[3], &in[0]));
    for (i = 0; i < n; i++)
        assert_int_equal(out[i].scope_id, 0);
    free(out);
    assert_int_equal(mcrx__sources_normalise(in, 0, &out, &n, &err), 0);
    assert_null(out);
    assert_int_equal(n, 0);
}

/* A version 2 config's list is the state; a version 1 config's list fields
 * are never looked at. */
static void a_config_list_is_the_state(void **state_) {
    mcrx_subscription_config cfg;
    mcrx_ip list[2], own[1], a = ip("10.0.0.1"), c = ip("10.0.0.9");
    mcrx__filter f;
    (void)state_;
    list[0] = a;
    list[1] = ip("10.0.0.2");
    assert_int_equal(mcrx_subscription_config_parse(&cfg, "239.1.1.1", 5000, NULL, NULL),
                     MCRX_ERROR_NONE);
    cfg.sources_mode = MCRX_SOURCES_INCLUDE;
    cfg.sources = list;
    cfg.nsources = 2;
    mcrx__filter_of_config(&f, &cfg, own);
    assert_true(f.mode == MCRX__INCLUDE && f.nsources == 2 && f.sources == list);
    assert_true(mcrx__filter_accepts(&f, &a) && !mcrx__filter_accepts(&f, &c));
    cfg.sources_mode = MCRX_SOURCES_EXCLUDE;
    cfg.sources = &c;
    cfg.nsources = 1;
    mcrx__filter_of_config(&f, &cfg, own);
    assert_true(f.mode == MCRX__EXCLUDE && f.nsources == 1);
    assert_true(mcrx__filter_accepts(&f, &a) && !mcrx__filter_accepts(&f, &c));
    cfg.version = 1; /* an older caller: the fields past version 1 do not exist */
    mcrx__filter_of_config(&f, &cfg, own);
    assert_true(f.mode == MCRX__EXCLUDE && f.nsources == 0);
    /* mcrx__config_import copies no byte past a version 1 struct */
    memset(&cfg, 0xa5, sizeof cfg);
    cfg.version = 1;
    {
        mcrx_subscription_config copy;
        mcrx__config_import(&copy, &cfg);
        assert_int_equal(copy.sources_mode, 0);
        assert_int_equal(copy.nsources, 0);
        assert_null(copy.sources);
        assert_int_equal(copy.interface_flags, 0);
        assert_int_equal(copy.version, 1);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(joins_and_leaves_are_one_call_each),
        cmocka_unit_test(source_changes_add_before_they_drop),
        cmocka_unit_test(a_change_of_mode_passes_through_no_membership),
        cmocka_unit_test(a_failed_call_undoes_the_ones_before_it),
        cmocka_unit_test(the_check_accepts_what_the_state_lets_through),
        cmocka_unit_test(lists_are_normalised),
        cmocka_unit_test(a_config_list_is_the_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
