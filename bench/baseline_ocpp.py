"""Baseline: a minimal OCPP 1.6-J central system on the PyPI `ocpp` library.

The `ocpp` library validates every payload against the OCPP 1.6 JSON schemas (its default).
Every frame, in and out, is appended to a file (one line: timestamp, station, direction,
frame), written through a 64 KiB buffer that is flushed every second.

    python baseline_ocpp.py --port 9101 --log frames.log
"""

import argparse
import asyncio
from datetime import datetime, timezone

import websockets
from websockets.asyncio.server import serve

from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp
from ocpp.v16 import call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import AuthorizationStatus, RegistrationStatus


def now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FrameLog:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1 << 16, encoding="utf-8")

    def write(self, station, direction, frame):
        self.f.write(f"{now()}\t{station}\t{direction}\t{frame}\n")

    async def flusher(self):
        while True:
            await asyncio.sleep(1)
            self.f.flush()


class LoggedConnection:
    """What ChargePoint needs of a connection (recv/send), logging every frame."""

    def __init__(self, ws, station, log):
        self.ws, self.station, self.log = ws, station, log

    async def recv(self):
        msg = await self.ws.recv()
        self.log.write(self.station, "in", msg)
        return msg

    async def send(self, msg):
        self.log.write(self.station, "out", msg)
        await self.ws.send(msg)


class ChargePoint(Cp):
    @on("BootNotification")
    def on_boot(self, **_):
        return call_result.BootNotification(current_time=now(), interval=300, status=RegistrationStatus.accepted)

    @on("Heartbeat")
    def on_heartbeat(self, **_):
        return call_result.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status(self, **_):
        return call_result.StatusNotification()

    @on("MeterValues")
    def on_meter_values(self, **_):
        return call_result.MeterValues()

    @on("Authorize")
    def on_authorize(self, **_):
        return call_result.Authorize(id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))

    @on("StartTransaction")
    def on_start(self, **_):
        self.tx = getattr(self, "tx", 0) + 1
        return call_result.StartTransaction(
            transaction_id=self.tx, id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted)
        )

    @on("StopTransaction")
    def on_stop(self, **_):
        return call_result.StopTransaction()

    @on("DataTransfer")
    def on_data_transfer(self, **_):
        return call_result.DataTransfer(status="UnknownVendorId")

    @on("DiagnosticsStatusNotification")
    def on_diag(self, **_):
        return call_result.DiagnosticsStatusNotification()

    @on("FirmwareStatusNotification")
    def on_fw(self, **_):
        return call_result.FirmwareStatusNotification()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9101)
    ap.add_argument("--log", default="frames-ocpp.log")
    args = ap.parse_args()
    log = FrameLog(args.log)

    async def handler(ws):
        station = ws.request.path.rstrip("/").rsplit("/", 1)[-1]
        cp = ChargePoint(station, LoggedConnection(ws, station, log))
        try:
            await cp.start()
        except websockets.ConnectionClosed:
            pass

    async with serve(handler, args.host, args.port, subprotocols=["ocpp1.6"], max_size=1 << 20):
        print(f"ocpp baseline listening on ws://{args.host}:{args.port}/ocpp/{{id}}", flush=True)
        await log.flusher()


if __name__ == "__main__":
    asyncio.run(main())
