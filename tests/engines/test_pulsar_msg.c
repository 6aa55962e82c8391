/* SPDX-License-Identifier: MIT */
/* The pulsar engine's pure parts: the WebSocket API's JSON (msg.c) and what
 * it shares with minion-submit (lib/pulsar.c): topic names, URLs, the REST
 * producer's body and replies. Frames are written as the Pulsar WebSocket
 * proxy writes them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "pulsar.h"

static void test_message(void **state)
{
    const char *frame =
        "{\"messageId\":\"CAAQAw==\",\"payload\":\"aGVsbG8gd29ybGQ=\","
        "\"properties\":{\"k\":\"v\"},\"publishTime\":"
        "\"2021-10-29T16:01:38.967-07:00\",\"redeliveryCount\":2,"
        "\"key\":\"x\",\"someFutureField\":[1,2]}";
    struct pmsg m;
    void *tree;
    char err[128];

    (void)state;
    assert_int_equal(
        pmsg_parse(frame, strlen(frame), &m, &tree, err, sizeof(err)), 1);
    assert_string_equal(m.id, "CAAQAw==");
    assert_int_equal(m.len, 11);
    assert_memory_equal(m.payload, "hello world", 11);
    assert_int_equal(m.redelivery, 2);
    free(m.payload);
    pmsg_done(tree);
}

static void test_message_binary_and_empty(void **state)
{
    const char *bin = "{\"messageId\":\"a\",\"payload\":\"AP8A\","
                      "\"redeliveryCount\":0}";
    const char *empty = "{\"messageId\":\"b\",\"payload\":\"\"}";
    struct pmsg m;
    void *tree;

    (void)state;
    assert_int_equal(pmsg_parse(bin, strlen(bin), &m, &tree, NULL, 0), 1);
    assert_int_equal(m.len, 3);
    assert_memory_equal(m.payload, "\0\xff\0", 3);
    free(m.payload);
    pmsg_done(tree);
    assert_int_equal(pmsg_parse(empty, strlen(empty), &m, &tree, NULL, 0), 1);
    assert_int_equal(m.len, 0);
    assert_int_equal(m.redelivery, 0);
    free(m.payload);
    pmsg_done(tree);
}

static void test_other_frames(void **state)
{
    const char *eot = "{\"endOfTopic\":false}";
    const char *bad[] = {
        "not json",
        "[1,2]",
        "{\"payload\":\"aGk=\"}",
        "{\"messageId\":\"\",\"payload\":\"aGk=\"}",
        "{\"messageId\":\"x\",\"payload\":\"a!==\"}",
        "{\"messageId\":\"x\",\"payload\":12}",
    };
    struct pmsg m;
    void *tree;
    char err[128];

    (void)state;
    assert_int_equal(pmsg_parse(eot, strlen(eot), &m, &tree, err, sizeof(err)),
                     0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(
            pmsg_parse(bad[i], strlen(bad[i]), &m, &tree, err, sizeof(err)),
            -EPROTO);
        assert_true(err[0] != '\0');
        assert_null(tree);
    }
}

static void test_frames(void **state)
{
    char *f;

    (void)state;
    f = pframe_ack("CAAQAw==");
    assert_string_equal(f, "{\"messageId\":\"CAAQAw==\"}");
    free(f);
    f = pframe_nack("a\"b\\c");
    assert_string_equal(f, "{\"type\":\"negativeAcknowledge\","
                           "\"messageId\":\"a\\\"b\\\\c\"}");
    free(f);
    f = pframe_permit(64);
    assert_string_equal(f, "{\"type\":\"permit\",\"permitMessages\":64}");
    free(f);
}

static void test_base64_round_trip(void **state)
{
    char buf[300], out[300];

    (void)state;
    for (size_t n = 0; n < 200; n++) {
        char *enc;
        for (size_t i = 0; i < n; i++) {
            buf[i] = (char)(i * 7 + n);
        }
        enc = base64_encode(buf, n);
        assert_non_null(enc);
        assert_int_equal(strlen(enc), (n + 2) / 3 * 4);
        assert_int_equal(base64_decode(enc, strlen(enc), out), (long)n);
        assert_memory_equal(buf, out, n);
        free(enc);
    }
    assert_int_equal(base64_decode("aGk", 3, out), 2); /* no padding */
    assert_int_equal(base64_decode("a", 1, out), -EINVAL);
}

static void test_topics(void **state)
{
    struct pulsar_topic t, d;
    char err[256];

    (void)state;
    assert_int_equal(pulsar_topic_parse("jobs", &t, err, sizeof(err)), 0);
    assert_string_equal(t.full, "persistent://public/default/jobs");
    assert_string_equal(t.path, "persistent/public/default/jobs");
    assert_int_equal(pulsar_topic_dlq(&t, "minions", &d), 0);
    assert_string_equal(d.full, "persistent://public/default/jobs-minions-DLQ");
    pulsar_topic_fini(&d);
    pulsar_topic_fini(&t);

    assert_int_equal(pulsar_topic_parse("persistent://acme/batch/my topic", &t,
                                        err, sizeof(err)),
                     0);
    assert_string_equal(t.tenant, "acme");
    assert_string_equal(t.ns, "batch");
    assert_string_equal(t.local, "my topic");
    assert_string_equal(t.path, "persistent/acme/batch/my%20topic");
    pulsar_topic_fini(&t);

    assert_int_equal(
        pulsar_topic_parse("acme/batch/jobs", &t, err, sizeof(err)), 0);
    assert_string_equal(t.full, "persistent://acme/batch/jobs");
    pulsar_topic_fini(&t);

    assert_int_equal(pulsar_topic_parse("", &t, err, sizeof(err)), -EINVAL);
    assert_int_equal(
        pulsar_topic_parse("non-persistent://a/b/c", &t, err, sizeof(err)),
        -EINVAL);
    assert_non_null(strstr(err, "non-persistent"));
    assert_int_equal(pulsar_topic_parse("kafka://a/b/c", &t, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(pulsar_topic_parse("a/b", &t, err, sizeof(err)), -EINVAL);
    assert_int_equal(
        pulsar_topic_parse("persistent://a/b/c/d", &t, err, sizeof(err)),
        -EINVAL);
    assert_int_equal(
        pulsar_topic_parse("persistent://a//c", &t, err, sizeof(err)), -EINVAL);
}

static void test_urls(void **state)
{
    struct pulsar_topic t;
    char *base, *u, err[256];

    (void)state;
    assert_int_equal(
        pulsar_url_base("http://h:8080//", &base, err, sizeof(err)), 0);
    assert_string_equal(base, "http://h:8080");
    assert_int_equal(pulsar_topic_parse("jobs", &t, err, sizeof(err)), 0);
    u = pulsar_admin_url(base, &t, "/stats");
    assert_string_equal(u, "http://h:8080/admin/v2/persistent/public/"
                           "default/jobs/stats");
    free(u);
    u = pulsar_producer_url(base, &t);
    assert_string_equal(u, "http://h:8080/topics/persistent/public/default/"
                           "jobs");
    free(u);
    free(base);
    pulsar_topic_fini(&t);
    assert_int_equal(
        pulsar_url_base("pulsar://h:6650", &base, err, sizeof(err)), -EINVAL);
    assert_int_equal(pulsar_url_base("http://", &base, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(
        pulsar_url_base("http://h:8080/?x=1", &base, err, sizeof(err)),
        -EINVAL);
}

static void test_rest_body(void **state)
{
    const char *props[] = {"error", "exit 3"};
    struct pulsar_out m[] = {
        {"a \"quoted\" param", 16, NULL, 0},
        {"caf\xc3\xa9", 5, props, 1},
    };
    struct pulsar_out bad = {"\xff\xfe", 2, NULL, 0};
    struct pulsar_out nul = {"a\0b", 3, NULL, 0};
    long which;
    char *body;

    (void)state;
    body = pulsar_rest_body("m1", m, 2, &which);
    assert_non_null(body);
    assert_string_equal(body, "{\"producerName\":\"m1\",\"schemaVersion\":-1,"
                              "\"messages\":[{\"payload\":\"a \\\"quoted\\\" "
                              "param\"},{\"payload\":\"caf\xc3\xa9\","
                              "\"properties\":{\"error\":\"exit 3\"}}]}");
    free(body);
    assert_null(pulsar_rest_body("m1", &bad, 1, &which));
    assert_int_equal(which, 0);
    assert_null(pulsar_rest_body("m1", &nul, 1, &which));
    assert_int_equal(which, 0);
}

static void test_rest_reply(void **state)
{
    const char *ok = "{\"messagePublishResults\":[{\"messageId\":\"1:2:-1\","
                     "\"errorCode\":0,\"schemaVersion\":0},{\"messageId\":"
                     "\"1:3:-1\",\"errorCode\":0}],\"schemaVersion\":0}";
    const char *part = "{\"messagePublishResults\":[{\"errorCode\":0},"
                       "{\"errorCode\":2,\"errorMsg\":\"too big\"}]}";
    char err[128];

    (void)state;
    assert_int_equal(pulsar_rest_reply(ok, strlen(ok), 2, err, sizeof(err)), 0);
    assert_int_equal(pulsar_rest_reply(part, strlen(part), 2, err, sizeof(err)),
                     1);
    assert_string_equal(err, "message 1 refused: too big");
    assert_int_equal(pulsar_rest_reply(ok, strlen(ok), 3, err, sizeof(err)),
                     -EPROTO);
    assert_int_equal(pulsar_rest_reply("<html>", 6, 1, err, sizeof(err)),
                     -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_message_binary_and_empty),
        cmocka_unit_test(test_other_frames),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_rest_body),
        cmocka_unit_test(test_rest_reply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
