/* SPDX-License-Identifier: MIT */
/*
 * libcurl's multi-socket interface driven by a libevent loop: curl says
 * which sockets it wants read or written and when its timer is due, this
 * adapter turns each wish into one struct event, and tells the owner of
 * each transfer, exactly once, how it ended. Loop thread only.
 *
 *   struct curl_event *ce = curl_event_attach(base);
 *   CURL *easy = curl_easy_init();  ... set URL, write function ...
 *   curl_event_add(ce, easy, on_done, arg);   on_done(easy, CURLE_OK, arg)
 *   curl_event_detach(ce);          pending transfers end as cancelled
 */
#ifndef MINION_CURL_EVENT_H
#define MINION_CURL_EVENT_H

#include <curl/curl.h>

struct event_base;
struct curl_event;

/* How a transfer ended: CURLE_OK (look at CURLINFO_RESPONSE_CODE for the
 * HTTP status), a curl error, or CURLE_ABORTED_BY_CALLBACK when it was
 * cancelled (curl_event_cancel, curl_event_detach). Called exactly once per
 * curl_event_add() that returned 0, on the loop thread, never from inside
 * curl_event_add() itself. The handle is no longer in the multi: the
 * callback may clean it up, reuse it, or add it again. */
typedef void curl_event_done_fn(CURL *easy, CURLcode result, void *arg);

/* A multi handle driven by @base. Returns: a new adapter, freed with
 * curl_event_detach(); NULL on ENOMEM. Borrows: base, for its whole life. */
struct curl_event *curl_event_attach(struct event_base *base);

/* End every transfer still running (each gets its done callback, as
 * cancelled), then free the adapter and its multi handle. Accepts NULL.
 * May be called from a done callback: the adapter is then freed once that
 * callback returns. */
void curl_event_detach(struct curl_event *ce);

/* Start @easy. Borrows: easy, until its done callback. Returns 0, or
 * -ENOMEM / -EINVAL (a handle already running, an adapter being detached:
 * then @done is never called). Called from inside libcurl's own callbacks,
 * the transfer starts once libcurl returns, and if libcurl refuses it
 * then, its done callback gets CURLE_FAILED_INIT or CURLE_OUT_OF_MEMORY. */
int curl_event_add(struct curl_event *ce, CURL *easy, curl_event_done_fn *done,
                   void *arg);

/* Stop @easy now: its done callback runs before this returns, with
 * CURLE_ABORTED_BY_CALLBACK. From inside libcurl's own callbacks (a write
 * or header function) it runs as soon as libcurl returns instead, still
 * once. Nothing happens for a handle that is not running. */
void curl_event_cancel(struct curl_event *ce, CURL *easy);

/* Transfers running now. */
unsigned curl_event_running(const struct curl_event *ce);

#endif
