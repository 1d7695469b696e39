"""python-socketio (Debian's python3-socketio) against a Tessera Socket.IO test app.

Usage: python3 socketio_client.py <scenario> <baseUrl>
Scenarios: websocket, polling. Each connects two clients with an auth payload to "/protected"
(token "good"), checks whoami (ack), echo with ack (JSON and binary), and that a broadcast from one
reaches the other. Prints one JSON line; exit 0 on success, 1 with the reason on stderr.
"""
import json
import sys
import threading

import socketio

TIMEOUT = 10


def fail(message):
    print(json.dumps({"ok": False, "error": message}))
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def connect(url, transport, token):
    client = socketio.Client(reconnection=False)
    client.connect(url, namespaces=["/protected"], transports=[transport], auth={"token": token}, wait_timeout=TIMEOUT)
    return client


def main():
    scenario, url = sys.argv[1], sys.argv[2]
    if scenario not in ("websocket", "polling"):
        fail("unknown scenario " + scenario)

    # A refused token: the middleware's message and data reach the client's connect_error handler.
    refused = socketio.Client(reconnection=False)
    refusal = {}
    refused_event = threading.Event()

    def on_refused(*args):
        refusal["args"] = args
        refused_event.set()

    refused.on("connect_error", on_refused, namespace="/protected")
    # wait=False: python-socketio 5.7 would otherwise sit out its whole wait_timeout on a refusal.
    refused.connect(url, namespaces=["/protected"], transports=[scenario], auth={"token": "bad"}, wait=False)
    if not refused_event.wait(TIMEOUT):
        fail("no connect_error for a bad token")
    refused.disconnect()
    if "not authorized" not in repr(refusal.get("args")) or "nope" not in repr(refusal.get("args")):
        fail("connect_error carried %r" % (refusal.get("args"),))

    a = connect(url, scenario, "good")
    b = connect(url, scenario, "good")
    try:
        who = a.call("whoami", namespace="/protected", timeout=TIMEOUT)
        if who.get("nsp") != "/protected" or who.get("auth") != {"token": "good"}:
            fail("whoami answered %r" % (who,))

        echoed = a.call("echo", {"n": 1, "s": "héllo", "l": [1, None, True]}, namespace="/protected", timeout=TIMEOUT)
        if echoed != {"n": 1, "s": "héllo", "l": [1, None, True]}:
            fail("echo answered %r" % (echoed,))

        blob = bytes(range(256)) * 4
        echoed_blob = a.call("echo", blob, namespace="/protected", timeout=TIMEOUT)
        if bytes(echoed_blob) != blob:
            fail("binary echo differs")

        got = threading.Event()
        received = {}

        def on_news(data):
            received["data"] = data
            got.set()

        b.on("news", on_news, namespace="/protected")
        ack = a.call("broadcast", {"event": "news", "data": {"headline": "tessera"}}, namespace="/protected", timeout=TIMEOUT)
        if ack is not True:
            fail("broadcast ack was %r" % (ack,))
        if not got.wait(TIMEOUT):
            fail("broadcast did not reach the other client")
        if received["data"] != {"headline": "tessera"}:
            fail("broadcast carried %r" % (received["data"],))
    finally:
        a.disconnect()
        b.disconnect()
    print(json.dumps({"ok": True, "scenario": scenario, "transport": scenario}))


if __name__ == "__main__":
    main()
