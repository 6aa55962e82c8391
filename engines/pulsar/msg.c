/* SPDX-License-Identifier: MIT */
/* The WebSocket consumer API's JSON: the messages the broker pushes and
 * the commands a consumer sends. Pure: no I/O, so its unit test needs no
 * broker. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "errbuf.h"
#include "engine.h"
#include "sha1.h"

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    /* Java's encoder writes the standard alphabet; accept the URL-safe one
     * too, it costs nothing. */
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

long base64_decode(const char *in, size_t len, char *out)
{
    unsigned acc = 0;
    int bits = 0;
    long n = 0;
    size_t i = 0, pad = 0;

    while (len > 0 && in[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if ((len + pad) % 4 == 1) {
        return -EINVAL;
    }
    for (; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0) {
            return -EINVAL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    return n;
}

char *base64_encode(const char *in, size_t len)
{
    /* The WebSocket adapter's encoder: one base64 writer in the tree. */
    char *out = malloc(SHA1_BASE64_SIZE(len));

    if (out) {
        sha1_base64(in, len, out);
    }
    return out;
}

/* A message a stop put back (dlq.c's requeue) says how many attempts its
 * param had used, and the task id it had. Anything else there is the
 * producer's business: a value that is not ours to read is ignored. */
static void read_released_props(const cJSON *props, struct pmsg *msg)
{
    const cJSON *used, *task;
    char *end;
    unsigned long long n;

    if (!cJSON_IsObject(props)) {
        return;
    }
    used = cJSON_GetObjectItemCaseSensitive(props, PULSAR_PROP_ATTEMPTS);
    if (cJSON_IsString(used) && used->valuestring[0] >= '0' &&
        used->valuestring[0] <= '9') {
        n = strtoull(used->valuestring, &end, 10);
        if (!*end && n < 1000000000ULL) {
            msg->attempts_used = (long long)n;
        }
    }
    task = cJSON_GetObjectItemCaseSensitive(props, PULSAR_PROP_TASK);
    if (cJSON_IsString(task) && task->valuestring[0]) {
        msg->task = task->valuestring;
    }
}

int pmsg_parse(const char *data, size_t len, struct pmsg *msg, void **tree,
               char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(data, len);
    const cJSON *id, *payload, *count;
    size_t plen;
    long n;

    memset(msg, 0, sizeof(*msg));
    *tree = NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return errbuf_set(err, errlen, -EPROTO,
                          "a frame that is not a JSON "
                          "object");
    }
    id = cJSON_GetObjectItemCaseSensitive(root, "messageId");
    payload = cJSON_GetObjectItemCaseSensitive(root, "payload");
    if (!id && !payload) {
        /* {"endOfTopic":false} and whatever later versions add. */
        cJSON_Delete(root);
        return 0;
    }
    if (!cJSON_IsString(id) || !id->valuestring[0]) {
        cJSON_Delete(root);
        return errbuf_set(err, errlen, -EPROTO, "a message without messageId");
    }
    msg->id = id->valuestring;
    count = cJSON_GetObjectItemCaseSensitive(root, "redeliveryCount");
    msg->redelivery = cJSON_IsNumber(count) && count->valuedouble > 0
                          ? (long long)count->valuedouble
                          : 0;
    read_released_props(cJSON_GetObjectItemCaseSensitive(root, "properties"),
                        msg);
    /* A message with no payload (Pulsar allows empty ones) is an empty
     * param. */
    if (payload && !cJSON_IsNull(payload) && !cJSON_IsString(payload)) {
        /* The id lives in the tree: say it before the tree goes. */
        errbuf_set(err, errlen, -EPROTO, "message %s: payload is not a string",
                   msg->id);
        msg->id = NULL;
        cJSON_Delete(root);
        return -EPROTO;
    }
    plen = cJSON_IsString(payload) ? strlen(payload->valuestring) : 0;
    msg->payload = malloc(plen / 4 * 3 + 4);
    if (!msg->payload) {
        cJSON_Delete(root);
        return errbuf_set(err, errlen, -ENOMEM, "out of memory");
    }
    n = plen ? base64_decode(payload->valuestring, plen, msg->payload) : 0;
    if (n < 0) {
        free(msg->payload);
        msg->payload = NULL;
        errbuf_set(err, errlen, -EPROTO, "message %s: payload is not base64",
                   id->valuestring);
        cJSON_Delete(root);
        return -EPROTO;
    }
    msg->payload[n] = '\0';
    msg->len = (size_t)n;
    *tree = root;
    return 1;
}

void pmsg_done(void *tree)
{
    cJSON_Delete(tree);
}

/* {"type":...,"messageId":"<id>"}: the id escaped as a JSON string. */
static char *id_frame(const char *type, const char *id)
{
    size_t n = strlen(id), k = 0;
    char *out = malloc(n * 6 + 64);
    int head;

    if (!out) {
        return NULL;
    }
    head = type ? sprintf(out, "{\"type\":\"%s\",\"messageId\":\"", type)
                : sprintf(out, "{\"messageId\":\"");
    k = (size_t)head;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if (*p == '"' || *p == '\\') {
            out[k++] = '\\';
            out[k++] = (char)*p;
        } else if (*p < 0x20) {
            k += (size_t)sprintf(out + k, "\\u%04x", *p);
        } else {
            out[k++] = (char)*p;
        }
    }
    memcpy(out + k, "\"}", 3);
    return out;
}

char *pframe_ack(const char *id)
{
    return id_frame(NULL, id);
}

char *pframe_nack(const char *id)
{
    return id_frame("negativeAcknowledge", id);
}

char *pframe_permit(unsigned n)
{
    char *out = malloc(64);

    if (out) {
        snprintf(out, 64, "{\"type\":\"permit\",\"permitMessages\":%u}", n);
    }
    return out;
}
