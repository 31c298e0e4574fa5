"""The plugin server: go-plugin's handshake and gRPC services around ``tf``'s provider servicer.

``tf.runner.run_provider`` stops its gRPC server as soon as Terraform sends ``StopProvider``. Terraform
sends that on Ctrl-C, while a create may be waiting for ``deployVirtualMachine``'s job: the server would
drop the answer and Terraform would never learn the new VM's id. Here ``StopProvider`` only sets the
provider's stop event; operations that wait for jobs see it, stop waiting and return the partial state
(with the id) and an error, which Terraform saves. The process ends on go-plugin's ``Shutdown``.

SIGINT is ignored in plugin mode, as go-plugin servers do: a Ctrl-C in the terminal reaches the whole
process group, and Terraform, not the provider, decides how to stop.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import tempfile
import threading
from concurrent import futures
from typing import TYPE_CHECKING, Any

from provisioner_terraform import ADDRESS

if TYPE_CHECKING:
    from provisioner_terraform.provider import ProvisionerProvider

#: Terraform's go-plugin handshake cookie (``plugin.HandshakeConfig`` in terraform's ``internal/plugin6``).
MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
#: gRPC worker threads: Terraform's default parallelism is 10.
WORKERS = 10
NOT_A_PROGRAM = (
    "This binary is a plugin. These are not meant to be executed directly.\n"
    "Terraform starts it: run `provisioner terraform install`, then `terraform init` in your configuration.\n"
    "For tests, `--dev` serves it in reattach mode (TF_REATTACH_PROVIDERS).\n"
)


def _grpc_server(provider: ProvisionerProvider, done: threading.Event) -> Any:
    """The gRPC server with the provider, controller and stdio services."""
    import grpc
    from tf.gen import grpc_controller_pb2 as controller_pb
    from tf.gen import grpc_controller_pb2_grpc as controller_rpc
    from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
    from tf.gen import tfplugin_pb2 as pb
    from tf.gen import tfplugin_pb2_grpc as rpc
    from tf.provider import ProviderServicer

    class Servicer(ProviderServicer):
        def StopProvider(self, request: Any, context: Any) -> Any:
            provider.stop.set()
            return pb.StopProvider.Response()

    class Controller(controller_rpc.GRPCControllerServicer):
        def Shutdown(self, request: Any, context: Any) -> Any:
            done.set()
            return controller_pb.Empty()

    class Stdio(stdio_rpc.GRPCStdioServicer):
        def StreamStdio(self, request: Any, context: Any) -> Any:
            return iter(())

    server = grpc.server(thread_pool=futures.ThreadPoolExecutor(max_workers=WORKERS))
    rpc.add_ProviderServicer_to_server(Servicer(provider), server)
    controller_rpc.add_GRPCControllerServicer_to_server(Controller(), server)
    stdio_rpc.add_GRPCStdioServicer_to_server(Stdio(), server)
    return server


def serve(provider: ProvisionerProvider, argv: list[str]) -> int:
    """Serve until Terraform shuts the plugin down (or, with ``--dev``, until SIGTERM/SIGINT); return the exit code."""
    dev = "--dev" in argv
    if not dev and os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        sys.stderr.write(NOT_A_PROGRAM)
        return 1
    done = threading.Event()
    with tempfile.TemporaryDirectory(prefix="tfprov-") as tmp:
        socket_path = os.path.join(tmp, "plugin.sock")
        server = _grpc_server(provider, done)
        if dev:
            server.add_insecure_port(f"unix://{socket_path}")
            server.start()
            reattach = {
                ADDRESS: {
                    "Protocol": "grpc",
                    "ProtocolVersion": 6,
                    "Pid": os.getpid(),
                    "Test": True,
                    "Addr": {"Network": "unix", "String": socket_path},
                }
            }
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: done.set())
            print(f"TF_REATTACH_PROVIDERS={json.dumps(reattach)}", flush=True)
        else:
            from tf.runner import _self_signed_cert

            signal.signal(signal.SIGINT, signal.SIG_IGN)
            chain, credentials = _self_signed_cert()
            server.add_secure_port(f"unix://{socket_path}", credentials)
            server.start()
            certificate = base64.b64encode(chain).decode().rstrip("=")
            # go-plugin's handshake line: core protocol 1, app protocol 6, network, address, protocol, server cert.
            print(f"1|6|unix|{socket_path}|grpc|{certificate}", flush=True)
        # Bounded waits keep signal handlers running; the loop ends on Shutdown or a signal in dev mode.
        while not done.wait(0.05):
            pass
        provider.stop.set()
        server.stop(grace=1.0).wait(2.0)
    return 0
