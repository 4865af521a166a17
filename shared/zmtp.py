"""A small ZMTP 3.0 DEALER client over TCP, standard library only (rfc.zeromq.org/spec/23).

Used by ``shared.client`` when pyzmq cannot be imported (GIMP's bundled Python on Windows/macOS).
Only what a DEALER talking to the daemon's ROUTER needs: the NULL security mechanism, multipart
messages, PING/PONG answered. Every operation has a timeout; a timeout while waiting for a message
loses nothing (bytes are buffered until a whole message has arrived).

    s = ZmtpDealer("tcp://127.0.0.1:5557", timeout=5.0)
    s.send([b"header", b"pixels"])
    frames = s.recv(timeout=1.0)   # list of bytes, or None when nothing came in time
    s.close()
"""
from __future__ import annotations

import socket
import struct
import time
from typing import List, Optional, Sequence

FLAG_MORE, FLAG_LONG, FLAG_COMMAND = 1, 2, 4


class ZmtpError(OSError):
    """The connection failed or the peer broke the protocol. ``code`` as in shared.protocol."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_tcp_endpoint(endpoint: str):
    """'tcp://host:port' -> (host, port). IPv6 hosts in brackets: tcp://[::1]:5557."""
    if not endpoint.startswith("tcp://"):
        raise ZmtpError("no_daemon", f"the standard-library client speaks tcp:// only (got {endpoint!r})")
    rest = endpoint[len("tcp://"):]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        raise ZmtpError("no_daemon", f"the endpoint {endpoint!r} has no port (use tcp://127.0.0.1:5557)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _greeting(as_server: bool = False) -> bytes:
    g = b"\xff" + b"\x00" * 8 + b"\x7f"          # signature
    g += bytes([3, 0])                           # version 3.0
    g += b"NULL".ljust(20, b"\x00")              # mechanism
    g += bytes([1 if as_server else 0])          # as-server
    g += b"\x00" * 31                            # filler
    assert len(g) == 64
    return g


def _command(name: bytes, body: bytes = b"") -> bytes:
    payload = bytes([len(name)]) + name + body
    return _frame_header(len(payload), FLAG_COMMAND) + payload


def _ready_body(socket_type: bytes) -> bytes:
    def prop(name: bytes, value: bytes) -> bytes:
        return bytes([len(name)]) + name + struct.pack(">I", len(value)) + value
    return prop(b"Socket-Type", socket_type) + prop(b"Identity", b"")


def _frame_header(size: int, flags: int) -> bytes:
    if size < 256:
        return bytes([flags]) + bytes([size])
    return bytes([flags | FLAG_LONG]) + struct.pack(">Q", size)


def _parse_properties(body: bytes) -> dict:
    props, i = {}, 0
    while i < len(body):
        n = body[i]
        name = body[i + 1:i + 1 + n]
        i += 1 + n
        if i + 4 > len(body):
            raise ZmtpError("bad_message", "the peer's READY command is malformed")
        (vlen,) = struct.unpack(">I", body[i:i + 4])
        i += 4
        props[name.decode("ascii", "replace").lower()] = body[i:i + vlen]
        i += vlen
    return props


class ZmtpDealer:
    """One connection to a ZeroMQ ROUTER (or any socket that accepts DEALER) with NULL security."""

    def __init__(self, endpoint: str, timeout: float = 5.0, max_frame_bytes: int = 1 << 31):
        self.endpoint = endpoint
        self.max_frame_bytes = max_frame_bytes
        host, port = parse_tcp_endpoint(endpoint)
        deadline = time.monotonic() + timeout
        try:
            self._sock = socket.create_connection((host, port), timeout=timeout)
        except socket.timeout:
            raise ZmtpError("no_daemon", f"connecting to {endpoint} timed out") from None
        except OSError as e:
            raise ZmtpError("no_daemon", f"nothing answers at {endpoint} ({e.strerror or e})") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._peer_closed = False
        self._parts: List[bytes] = []
        try:
            self._handshake(deadline)
        except BaseException:
            self.close()
            raise

    # ---- handshake ------------------------------------------------------------------------------
    def _handshake(self, deadline: float) -> None:
        self._sendall(_greeting(), deadline)
        try:
            peer = self._read_exact(64, deadline)
        except ZmtpError:
            if self._peer_closed and (len(self._buf) < 10 or (self._buf[0] == 0xFF and self._buf[9] == 0x7F)):
                # libzmq sends its signature, reads our greeting, and hangs up (sometimes with a
                # reset) when our NULL mechanism is not the one it requires (CURVE)
                raise ZmtpError("curve_unsupported",
                                f"the daemon at {self.endpoint} hung up during the handshake: it probably "
                                f"requires CURVE keys, and connecting with them needs pyzmq") from None
            raise
        if peer[0] != 0xFF or peer[9] != 0x7F:
            raise ZmtpError("bad_message", f"{self.endpoint} does not speak ZeroMQ (ZMTP 3)")
        if peer[10] < 3:
            raise ZmtpError("bad_message", f"{self.endpoint} speaks ZMTP {peer[10]}, this client needs 3")
        mechanism = bytes(peer[12:32]).rstrip(b"\x00")
        if mechanism != b"NULL":
            raise ZmtpError("curve_unsupported",
                            f"the daemon at {self.endpoint} requires {mechanism.decode('ascii', 'replace')} "
                            f"security; connecting to it needs pyzmq")
        self._sendall(_command(b"READY", _ready_body(b"DEALER")), deadline)
        while True:
            name, body = self._read_command(deadline)
            if name == b"READY":
                props = _parse_properties(body)
                st = props.get("socket-type", b"")
                if st not in (b"ROUTER", b"DEALER"):
                    raise ZmtpError("bad_message", f"the peer is a {st.decode('ascii', 'replace')} socket, not a ROUTER")
                return
            if name == b"ERROR":
                reason = body[1:1 + body[0]].decode("utf-8", "replace") if body else ""
                raise ZmtpError("no_daemon", f"the daemon refused the connection ({reason})")

    def _read_command(self, deadline: float):
        flags = self._read_exact(1, deadline)[0]
        if not flags & FLAG_COMMAND:
            raise ZmtpError("bad_message", "the peer sent a message before READY")
        size = self._read_size(flags, deadline)
        body = self._read_exact(size, deadline)
        n = body[0] if body else 0
        return bytes(body[1:1 + n]), bytes(body[1 + n:])

    def _read_size(self, flags: int, deadline: float) -> int:
        if flags & FLAG_LONG:
            (size,) = struct.unpack(">Q", self._read_exact(8, deadline))
        else:
            size = self._read_exact(1, deadline)[0]
        if size > self.max_frame_bytes:
            raise ZmtpError("too_large", f"the peer sent a {size}-byte frame")
        return size

    def _read_exact(self, n: int, deadline: float) -> bytes:
        while len(self._buf) < n:
            if not self._fill(deadline):
                raise ZmtpError("timeout", f"{self.endpoint} did not answer in time")
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    # ---- I/O ------------------------------------------------------------------------------------
    def _fill(self, deadline: float) -> bool:
        """Read what is available into the buffer; False on timeout. Raises on a closed connection."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self._sock.settimeout(left)
        try:
            chunk = self._sock.recv(1 << 20)
        except socket.timeout:
            return False
        except OSError as e:
            self._peer_closed = True
            raise ZmtpError("timeout", f"the connection to {self.endpoint} broke ({e})") from None
        if not chunk:
            self._peer_closed = True
            raise ZmtpError("timeout", f"the daemon at {self.endpoint} closed the connection")
        self._buf += chunk
        return True

    def _sendall(self, data, deadline: float) -> None:
        left = max(0.01, deadline - time.monotonic())
        self._sock.settimeout(left)
        try:
            self._sock.sendall(data)
        except socket.timeout:
            self.close()
            raise ZmtpError("timeout", f"sending to {self.endpoint} timed out") from None
        except OSError as e:
            self.close()
            raise ZmtpError("timeout", f"the connection to {self.endpoint} broke ({e})") from None

    def send(self, frames: Sequence, timeout: float = 30.0) -> None:
        """Send one multipart message. A timeout closes the connection (the stream is then unusable)."""
        if self._sock is None:
            raise ZmtpError("timeout", "the connection is closed")
        deadline = time.monotonic() + timeout
        last = len(frames) - 1
        for i, f in enumerate(frames):
            n = memoryview(f).nbytes
            self._sendall(_frame_header(n, FLAG_MORE if i < last else 0), deadline)
            if n:
                self._sendall(f, deadline)

    def _try_parse(self) -> Optional[List[bytes]]:
        """Take complete frames out of the buffer; a whole message when its last frame is in."""
        while True:
            buf = self._buf
            if len(buf) < 2:
                return None
            flags = buf[0]
            if flags & FLAG_LONG:
                if len(buf) < 9:
                    return None
                (size,) = struct.unpack(">Q", bytes(buf[1:9]))
                start = 9
            else:
                size, start = buf[1], 2
            if size > self.max_frame_bytes:
                raise ZmtpError("too_large", f"the peer sent a {size}-byte frame")
            if len(buf) < start + size:
                return None
            body = bytes(buf[start:start + size])
            del buf[:start + size]
            if flags & FLAG_COMMAND:
                n = body[0] if body else 0
                name = body[1:1 + n]
                if name == b"PING":   # ZMTP 3.1 heartbeat: answer with PONG and the context
                    ctx = body[1 + n + 2:]
                    self._sendall(_command(b"PONG", ctx), time.monotonic() + 5.0)
                elif name == b"ERROR":
                    raise ZmtpError("timeout", "the daemon closed the connection with an error")
                continue
            self._parts.append(body)
            if not flags & FLAG_MORE:
                msg, self._parts = self._parts, []
                return msg

    def recv(self, timeout: float) -> Optional[List[bytes]]:
        """The next whole multipart message, or None when none came within ``timeout`` seconds."""
        if self._sock is None:
            raise ZmtpError("timeout", "the connection is closed")
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            msg = self._try_parse()
            if msg is not None:
                return msg
            if not self._fill(deadline):
                return None

    def close(self) -> None:
        if getattr(self, "_sock", None) is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
