"""A tiny OTLP/HTTP receiver on 127.0.0.1 for the tests, and just enough of a
protobuf reader to look at what it received (no protobuf package needed)."""

import gzip
import http.server
import threading


def fields(buf):
    """Protobuf wire fields of one message: {number: [value, ...]}; varints as
    int, length-delimited as bytes, fixed 64/32 as raw bytes."""
    out, i = {}, 0

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7

    while i < len(buf):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value = varint()
        elif wire == 2:
            n = varint()
            value = bytes(buf[i:i + n])
            i += n
        elif wire == 1:
            value = bytes(buf[i:i + 8])
            i += 8
        elif wire == 5:
            value = bytes(buf[i:i + 4])
            i += 4
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _any_value(buf):
    f = fields(buf)
    if 1 in f:
        return f[1][0].decode()
    if 2 in f:
        return bool(f[2][0])
    if 3 in f:
        v = f[3][0]
        return v - (1 << 64) if v >= 1 << 63 else v
    return None


def _attributes(kvs):
    out = {}
    for kv in kvs:
        f = fields(kv)
        out[f[1][0].decode()] = _any_value(f[2][0]) if 2 in f else None
    return out


def spans_of(export_request):
    """(resource attributes, [span dicts]) of an ExportTraceServiceRequest:
    each span {"name", "attributes", "trace_id", "span_id", "parent_span_id"}."""
    resource, spans = {}, []
    for rs in fields(export_request).get(1, []):
        rsf = fields(rs)
        if 1 in rsf:
            resource.update(_attributes(fields(rsf[1][0]).get(1, [])))
        for ss in rsf.get(2, []):
            for sp in fields(ss).get(2, []):
                f = fields(sp)
                spans.append({
                    "trace_id": f[1][0].hex(), "span_id": f[2][0].hex(),
                    "parent_span_id": f[4][0].hex() if 4 in f and f[4][0] else None,
                    "name": f[5][0].decode(), "attributes": _attributes(f.get(9, []))})
    return resource, spans


class Receiver:
    """Accepts POST /v1/traces (answers 200 with an empty response message)."""

    def __init__(self):
        self.requests = []  # (path, headers, body) as received
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                with outer.lock:
                    outer.requests.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self):
        resource, out = {}, []
        with self.lock:
            for _, _, body in self.requests:
                r, s = spans_of(body)
                resource.update(r)
                out += s
        return resource, out

    def close(self):
        self.server.shutdown()
        self.server.server_close()
