"""An execution environment's runtime loop, as the Lambda Python runtime runs it, for the stack test.

Started as `python -I -S -B bootstrap.py` (no site-packages, no PYTHON* variables, no script
directory on the path) with LAMBDA_TASK_ROOT = the unpacked zip and LAMBDA_RUNTIME_DIR = what the
Python runtime provides (boto3 and its dependencies). It imports `_HANDLER`'s module once (the cold
start), then answers invocations read from fd STACK_INVOKE_FD with results written to STACK_RESULT_FD,
one JSON document per line. The function's stdout and stderr are its log stream.

Only the standard library is used here: this file is not part of the function's code. What it adds
to the environment is what the test's machine must add: no route off loopback (the test's rule),
and the test's DNS server as the environment's resolver (Lambda's is the VPC resolver).
"""

import importlib
import importlib.abc
import json
import os
import socket
import sys
import time
import traceback
import uuid

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _guard_network() -> None:
    connect, sendto = socket.socket.connect, socket.socket.sendto

    def allowed(address: object) -> bool:
        host = address[0] if isinstance(address, tuple) else address
        return not isinstance(host, str) or host in LOOPBACK or host.startswith("/")

    def guarded_connect(self: socket.socket, address: object) -> None:
        if not allowed(address):
            raise OSError(f"network access to {address!r} is not allowed in the stack test")
        connect(self, address)

    def guarded_sendto(self: socket.socket, data: bytes, *args: object) -> int:
        address = args[-1]
        if not allowed(address):
            raise OSError(f"network access to {address!r} is not allowed in the stack test")
        return sendto(self, data, *args)

    socket.socket.connect = guarded_connect
    socket.socket.sendto = guarded_sendto


class _TestResolver(importlib.abc.MetaPathFinder):
    """Point dnspython's resolvers at the test's DNS server once the function imports dnspython."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port, self.done = host, port, False

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name != "dns.resolver" or self.done:
            return None
        self.done = True
        sys.meta_path.remove(self)
        module = importlib.import_module(name)
        original = module.Resolver.__init__
        host, port = self.host, self.port

        def init(resolver: object, *args: object, **kwargs: object) -> None:
            kwargs["configure"] = False
            original(resolver, *args, **kwargs)
            resolver.nameservers = [host]
            resolver.port = port

        module.Resolver.__init__ = init
        return None


class Context:
    def __init__(self, request_id: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = os.environ["STACK_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(kind: str, exc: BaseException) -> dict[str, object]:
    return {
        "errorType": kind,
        "errorMessage": f"{type(exc).__name__}: {exc}",
        "stackTrace": traceback.format_exception(exc),
    }


def main() -> None:
    _guard_network()
    dns = os.environ.get("STACK_DNS_SERVER")
    if dns:
        host, port = dns.rsplit(":", 1)
        sys.meta_path.insert(0, _TestResolver(host, int(port)))
    sys.path[:0] = [os.environ["LAMBDA_TASK_ROOT"], os.environ["LAMBDA_RUNTIME_DIR"]]
    os.chdir(os.environ["LAMBDA_TASK_ROOT"])
    invocations = os.fdopen(int(os.environ["STACK_INVOKE_FD"]), "r", encoding="utf-8")
    results = os.fdopen(int(os.environ["STACK_RESULT_FD"]), "w", encoding="utf-8")
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    timeout = float(os.environ["STACK_FUNCTION_TIMEOUT_S"])
    handler = None
    init_error = None
    started = time.monotonic()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # Lambda reports it on every invocation of this environment
        init_error = _error("Runtime.ImportModuleError", exc)
        traceback.print_exc()
    init_s = time.monotonic() - started
    for line in invocations:
        event = json.loads(line)
        request_id = str(uuid.uuid4())
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        began = time.monotonic()
        if init_error is not None:
            answer: dict[str, object] = {"error": init_error, "init_s": init_s}
        else:
            try:
                result = handler(event, Context(request_id, began + timeout))
                answer = {"result": result, "init_s": init_s}
            except Exception as exc:  # the function's own failure: Lambda returns it, the env lives on
                traceback.print_exc()
                answer = {"error": _error("Runtime.HandlerError", exc), "init_s": init_s}
        sys.stdout.flush()
        sys.stderr.flush()
        duration_ms = (time.monotonic() - began) * 1000
        print(f"END RequestId: {request_id}", flush=True)
        print(f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms", flush=True)
        answer["request_id"] = request_id
        results.write(json.dumps(answer, default=str) + "\n")
        results.flush()
        init_s = 0.0


if __name__ == "__main__":
    main()
