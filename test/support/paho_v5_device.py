"""An MQTT 5 device on paho-mqtt (Python), for weir's tests: an independent v5 client.

It connects, publishes the messages it is given in order (paho keeps up to 20 in flight), and
prints what the gateway answered, one JSON object per line on stdout:

  {"event": "connack", "reasonCode": 0, "sessionPresent": false, "properties": {...}}
  {"event": "ack", "index": 3, "packet": "PUBACK", "reasonCode": 0}
  {"event": "done"}                          every message acknowledged (PUBACK or PUBCOMP)
  {"event": "disconnect", "reasonCode": 139, "reasonString": "server shutting down"}
                                             the connection ended (as paho reports it)

Then it disconnects itself, or with --stay waits until the gateway closes the connection.

  python3 paho_v5_device.py --port 1883 --client-id bus-1 --username bus-1 --password pw \
      --session-expiry 4294967295 --stay \
      --messages '[{"topic": "a/b", "payload": "{}", "qos": 1, "alias": 1}]'

A message's "alias" is sent as its Topic Alias property; an empty "topic" uses an alias set before.
Written for paho-mqtt 1.6 (Debian bookworm's python3-paho-mqtt) and 2.x.
"""

import argparse
import json
import sys

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def emit(**fields):
    print(json.dumps(fields), flush=True)


def reason_value(rc):
    """A ReasonCodes object (paho 1.6 and 2.x) or a plain number, as a number."""
    return getattr(rc, "value", rc)


class Device(mqtt.Client):
    """paho 1.6 reads the reason code of PUBACK, PUBREC and PUBCOMP but does not pass it to
    on_publish (a refused message looks delivered), so it is taken here from the packet paho is
    about to handle."""

    # A device of the tests does not reconnect: a closed connection ends the script.
    options = {"protocol": mqtt.MQTTv5, "reconnect_on_failure": False}

    def __init__(self, client_id):
        if hasattr(mqtt, "CallbackAPIVersion"):  # paho 2.x
            super().__init__(mqtt.CallbackAPIVersion.VERSION2, client_id, **self.options)
        else:
            super().__init__(client_id, **self.options)
        self.index_of_mid = {}

    def acknowledged(self, packet):
        body = self._in_packet["packet"]
        mid = int.from_bytes(body[:2], "big")
        # MQTT 5: a reason code is left out when it is 0 and there are no properties.
        code = body[2] if len(body) > 2 else 0
        if mid in self.index_of_mid:
            emit(event="ack", index=self.index_of_mid[mid], packet=packet, reasonCode=code)

    def _handle_pubackcomp(self, cmd):
        self.acknowledged(cmd)
        return super()._handle_pubackcomp(cmd)

    def _handle_pubrec(self):
        self.acknowledged("PUBREC")
        return super()._handle_pubrec()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", default="")
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--session-expiry", type=int, help="Session Expiry Interval, seconds")
    parser.add_argument("--messages", default="[]", help="JSON list of {topic, payload, qos, alias}")
    parser.add_argument("--stay", action="store_true", help="stay connected until the gateway closes")
    args = parser.parse_args()
    messages = json.loads(args.messages)

    device = Device(args.client_id)
    if args.username is not None:
        device.username_pw_set(args.username, args.password)
    unacknowledged = set()

    def on_connect(client, userdata, flags, rc, properties=None):
        session_present = flags["session present"] if isinstance(flags, dict) else flags.session_present
        emit(
            event="connack",
            reasonCode=reason_value(rc),
            sessionPresent=bool(session_present),
            properties=properties.json() if properties is not None else {},
        )
        if reason_value(rc) != 0:
            return
        for index, m in enumerate(messages):
            props = None
            if "alias" in m:
                props = Properties(PacketTypes.PUBLISH)
                props.TopicAlias = m["alias"]
            info = client.publish(m["topic"], m["payload"], qos=m["qos"], properties=props)
            if m["qos"] > 0:
                client.index_of_mid[info.mid] = index
                unacknowledged.add(info.mid)
        finish_if_done(client)

    def finish_if_done(client):
        if unacknowledged:
            return
        emit(event="done")
        if not args.stay:
            client.disconnect()

    def on_publish(client, userdata, mid, *rest):
        unacknowledged.discard(mid)
        finish_if_done(client)

    def on_disconnect(client, userdata, *rest):
        # paho 1.6: (rc, properties); paho 2.x: (flags, reason_code, properties).
        rc, properties = (rest[0], rest[1]) if len(rest) == 2 else (rest[1], rest[2])
        words = getattr(properties, "ReasonString", None)
        emit(event="disconnect", reasonCode=reason_value(rc), reasonString=words)

    device.on_connect = on_connect
    device.on_publish = on_publish
    device.on_disconnect = on_disconnect
    connect_props = None
    if args.session_expiry is not None:
        connect_props = Properties(PacketTypes.CONNECT)
        connect_props.SessionExpiryInterval = args.session_expiry
    device.connect(args.host, args.port, keepalive=30, properties=connect_props)
    device.loop_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
