#!/usr/bin/env python3
"""An OCPP 1.6-J charging station built on the PyPI `ocpp` library, for interoperability tests.

The `ocpp` library validates every payload against the official OCPP 1.6 JSON schemas: the
requests this station sends, the responses the central system returns to them, the requests
the central system sends and the responses this station returns. A schema violation on either
side makes this script fail (or, for a central-system CALL, answer with a CALLERROR).

Usage:
    charge_point.py WS_URL STATION_ID [--id-tag TAG] [--stay N [--until-eof]] [--no-script]

    WS_URL      the OCPP endpoint, e.g. ws://127.0.0.1:9000/ocpp (the station id is appended
                unless the URL already ends with it)
    STATION_ID  the chargeBoxId

It runs a charging session (boot, statuses, heartbeat, authorize, start, meter values, stop,
data transfer, diagnostics/firmware status, a GroundFailure fault on connector 2), then stays
connected `--stay N` seconds answering central-system commands (with `--until-eof`, only until
stdin is closed), and prints:

    one JSON line per central-system CALL it received:
        {"event": "command", "action": "Reset", "unique_id": "...", "payload": {...}, "valid": true}
        {"event": "command_rejected", "action": "...", "error": "FormationViolation", ...}
    a final JSON summary line:
        {"event": "summary", "ok": true, "transaction_id": 1, ...}

Exit code 0 on success; 1 with a message on stderr (and "ok": false in the summary) otherwise.
"""

import argparse
import asyncio
import json
import sys
import threading
import traceback
from datetime import datetime, timezone
from decimal import Decimal

try:
    import websockets
    from ocpp.exceptions import OCPPError
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint as Cp
    from ocpp.v16 import call, call_result
    from ocpp.v16.enums import Action
except ImportError as e:  # pragma: no cover - environment problem
    print(
        f"charge_point.py: missing Python package ({e}); install with: "
        "python3 -m venv .venv && .venv/bin/pip install ocpp websockets",
        file=sys.stderr,
    )
    sys.exit(3)


VENDOR = "InteropVendor"
MODEL = "PyOCPP-16"
SERIAL = "PY-SN-0001"
FIRMWARE = "1.2.3-interop"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _json_default(o):
    # The library parses JSON numbers with decimals as decimal.Decimal.
    if isinstance(o, Decimal):
        return float(o)
    return str(o)


def emit(obj) -> None:
    print(json.dumps(obj, sort_keys=True, default=_json_default), flush=True)


class ScriptFailure(Exception):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise ScriptFailure(what)


class InteropChargePoint(Cp):
    """A station that answers all 19 central-system-initiated OCPP 1.6 actions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commands = []
        self.rejected = []

    async def _handle_call(self, msg):
        # Wrap the library's dispatcher: it validates the request against the official schema
        # (raising OCPPError → CALLERROR) before a handler runs, and the response after.
        try:
            result = await super()._handle_call(msg)
        except OCPPError as e:
            entry = {
                "event": "command_rejected",
                "action": msg.action,
                "unique_id": msg.unique_id,
                "payload": msg.payload,
                "error": type(e).__name__,
                "code": getattr(e, "code", None),
                "description": str(e),
            }
            self.rejected.append(entry)
            emit(entry)
            raise
        entry = {
            "event": "command",
            "action": msg.action,
            "unique_id": msg.unique_id,
            "payload": msg.payload,
            "valid": True,
        }
        self.commands.append(entry)
        emit(entry)
        return result

    # ---- Core ----------------------------------------------------------------------------

    @on(Action.change_availability)
    def on_change_availability(self, connector_id, type, **kwargs):
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.change_configuration)
    def on_change_configuration(self, key, value, **kwargs):
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.clear_cache)
    def on_clear_cache(self, **kwargs):
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id, **kwargs):
        return call_result.DataTransfer(status="Accepted", data="pong")

    @on(Action.get_configuration)
    def on_get_configuration(self, key=None, **kwargs):
        known = {
            "HeartbeatInterval": "300",
            "MeterValueSampleInterval": "60",
            "NumberOfConnectors": "2",
        }
        asked = key if key else list(known)
        config = [{"key": k, "readonly": False, "value": known[k]} for k in asked if k in known]
        unknown = [k for k in asked if k not in known]
        return call_result.GetConfiguration(
            configuration_key=config, unknown_key=unknown or None
        )

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag, **kwargs):
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id, **kwargs):
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.reset)
    def on_reset(self, type, **kwargs):
        return call_result.Reset(status="Accepted")

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id, **kwargs):
        return call_result.UnlockConnector(status="Unlocked")

    # ---- Firmware Management -------------------------------------------------------------

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location, **kwargs):
        return call_result.GetDiagnostics(file_name="diagnostics-interop.log")

    @on(Action.update_firmware)
    def on_update_firmware(self, location, retrieve_date, **kwargs):
        return call_result.UpdateFirmware()

    # ---- Local Auth List Management ------------------------------------------------------

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **kwargs):
        return call_result.GetLocalListVersion(list_version=1)

    @on(Action.send_local_list)
    def on_send_local_list(self, list_version, update_type, **kwargs):
        return call_result.SendLocalList(status="Accepted")

    # ---- Reservation ---------------------------------------------------------------------

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id, **kwargs):
        return call_result.CancelReservation(status="Accepted")

    @on(Action.reserve_now)
    def on_reserve_now(self, connector_id, expiry_date, id_tag, reservation_id, **kwargs):
        return call_result.ReserveNow(status="Accepted")

    # ---- Smart Charging ------------------------------------------------------------------

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **kwargs):
        return call_result.ClearChargingProfile(status="Accepted")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, connector_id, duration, **kwargs):
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=now(),
            charging_schedule={
                "duration": duration,
                "chargingRateUnit": kwargs.get("charging_rate_unit") or "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
            },
        )

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id, cs_charging_profiles, **kwargs):
        return call_result.SetChargingProfile(status="Accepted")

    # ---- Remote Trigger ------------------------------------------------------------------

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message, **kwargs):
        return call_result.TriggerMessage(status="Accepted")

    # ---- The charging session ------------------------------------------------------------

    async def status(self, connector_id, status, error_code="NoError", **extra):
        await self.call(
            call.StatusNotification(
                connector_id=connector_id,
                error_code=error_code,
                status=status,
                timestamp=now(),
                **extra,
            ),
            suppress=False,
        )

    async def run_script(self, id_tag: str, summary: dict) -> None:
        statuses = summary["statuses_sent"]

        boot = await self.call(
            call.BootNotification(
                charge_point_model=MODEL,
                charge_point_vendor=VENDOR,
                charge_point_serial_number=SERIAL,
                firmware_version=FIRMWARE,
                meter_type="InteropMeter",
            ),
            suppress=False,
        )
        summary["boot_status"] = boot.status
        summary["heartbeat_interval"] = boot.interval
        expect(boot.status == "Accepted", f"BootNotification: expected Accepted, got {boot.status}")

        for c in (0, 1, 2):
            await self.status(c, "Available")
            statuses.append([c, "Available", "NoError"])

        hb = await self.call(call.Heartbeat(), suppress=False)
        summary["heartbeat_current_time"] = hb.current_time

        auth = await self.call(call.Authorize(id_tag=id_tag), suppress=False)
        summary["authorize_status"] = auth.id_tag_info["status"]
        expect(
            auth.id_tag_info["status"] == "Accepted",
            f"Authorize {id_tag}: expected Accepted, got {auth.id_tag_info}",
        )

        await self.status(1, "Preparing")
        statuses.append([1, "Preparing", "NoError"])

        meter_start = 1000
        start = await self.call(
            call.StartTransaction(
                connector_id=1, id_tag=id_tag, meter_start=meter_start, timestamp=now()
            ),
            suppress=False,
        )
        tx = start.transaction_id
        summary["transaction_id"] = tx
        summary["start_status"] = start.id_tag_info["status"]
        summary["meter_start"] = meter_start
        expect(
            start.id_tag_info["status"] == "Accepted",
            f"StartTransaction: expected Accepted, got {start.id_tag_info}",
        )

        await self.status(1, "Charging")
        statuses.append([1, "Charging", "NoError"])

        meter = meter_start
        sent = 0
        for i in range(3):
            meter += 500
            await self.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=tx,
                    meter_value=[
                        {
                            "timestamp": now(),
                            "sampledValue": [
                                {
                                    "value": str(meter),
                                    "context": "Sample.Periodic",
                                    "measurand": "Energy.Active.Import.Register",
                                    "location": "Outlet",
                                    "unit": "Wh",
                                },
                                {
                                    "value": str(7200 + i * 10),
                                    "context": "Sample.Periodic",
                                    "measurand": "Power.Active.Import",
                                    "unit": "W",
                                },
                                {
                                    "value": "16.0",
                                    "context": "Sample.Periodic",
                                    "measurand": "Current.Import",
                                    "phase": "L1",
                                    "unit": "A",
                                },
                                {
                                    "value": "230.1",
                                    "context": "Sample.Periodic",
                                    "measurand": "Voltage",
                                    "phase": "L1-N",
                                    "unit": "V",
                                },
                            ],
                        }
                    ],
                ),
                suppress=False,
            )
            sent += 1
        summary["meter_values_sent"] = sent

        meter_stop = meter + 250
        stop = await self.call(
            call.StopTransaction(
                meter_stop=meter_stop,
                timestamp=now(),
                transaction_id=tx,
                id_tag=id_tag,
                reason="Local",
                transaction_data=[
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {
                                "value": str(meter_stop),
                                "context": "Transaction.End",
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            }
                        ],
                    }
                ],
            ),
            suppress=False,
        )
        summary["meter_stop"] = meter_stop
        summary["stop_status"] = (stop.id_tag_info or {}).get("status")

        await self.status(1, "Finishing")
        statuses.append([1, "Finishing", "NoError"])
        await self.status(1, "Available")
        statuses.append([1, "Available", "NoError"])

        dt = await self.call(
            call.DataTransfer(vendor_id="com.example.interop", message_id="Ping", data="hello"),
            suppress=False,
        )
        summary["data_transfer_status"] = dt.status
        expect(
            dt.status == "UnknownVendorId",
            f"DataTransfer: expected UnknownVendorId, got {dt.status}",
        )

        await self.call(call.DiagnosticsStatusNotification(status="Uploaded"), suppress=False)
        await self.call(call.FirmwareStatusNotification(status="Installed"), suppress=False)

        await self.status(
            2,
            "Faulted",
            error_code="GroundFailure",
            info="RCD tripped",
            vendor_id="com.example.interop",
            vendor_error_code="E-GF-01",
        )
        statuses.append([2, "Faulted", "GroundFailure"])


async def stdin_eof() -> None:
    """Completes when stdin reaches end of file (read in a daemon thread: stdin may be a pipe)."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def read_all():
        try:
            sys.stdin.buffer.read()
        finally:
            loop.call_soon_threadsafe(done.set)

    threading.Thread(target=read_all, daemon=True).start()
    await done.wait()


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url", help="OCPP endpoint, e.g. ws://127.0.0.1:9000/ocpp")
    ap.add_argument("station_id", help="chargeBoxId")
    ap.add_argument("--id-tag", default="INTEROP-TAG-1", help="idTag to authorize (registered by the test)")
    ap.add_argument("--stay", type=float, default=0, help="seconds to stay connected after the script")
    ap.add_argument(
        "--until-eof",
        action="store_true",
        help="with --stay: leave as soon as stdin reaches end of file (the caller closed it)",
    )
    ap.add_argument("--no-script", action="store_true", help="only BootNotification, then --stay")
    ap.add_argument("--timeout", type=float, default=15, help="seconds to wait for each response")
    args = ap.parse_args()

    url = args.url.rstrip("/")
    if not url.endswith("/" + args.station_id):
        url = f"{url}/{args.station_id}"

    summary = {
        "event": "summary",
        "ok": False,
        "station_id": args.station_id,
        "url": url,
        "statuses_sent": [],
    }
    cp = None
    try:
        async with websockets.connect(url, subprotocols=["ocpp1.6"], open_timeout=10) as ws:
            expect(
                ws.subprotocol == "ocpp1.6",
                f"server did not agree on subprotocol ocpp1.6 (got {ws.subprotocol!r})",
            )
            cp = InteropChargePoint(args.station_id, ws, response_timeout=args.timeout)
            reader = asyncio.create_task(cp.start())
            try:
                if args.no_script:
                    boot = await cp.call(
                        call.BootNotification(charge_point_model=MODEL, charge_point_vendor=VENDOR),
                        suppress=False,
                    )
                    summary["boot_status"] = boot.status
                    expect(boot.status == "Accepted", f"BootNotification: got {boot.status}")
                else:
                    await cp.run_script(args.id_tag, summary)
                summary["script_done"] = True
                emit({"event": "ready", "station_id": args.station_id, "transaction_id": summary.get("transaction_id")})
                if args.stay > 0:
                    waiting = {reader}
                    if args.until_eof:
                        waiting.add(asyncio.create_task(stdin_eof()))
                    await asyncio.wait(waiting, timeout=args.stay, return_when=asyncio.FIRST_COMPLETED)
                    if reader.done() and reader.exception() is not None:
                        raise ScriptFailure(f"connection ended while staying: {reader.exception()!r}")
            finally:
                reader.cancel()
        summary["ok"] = True
    except ScriptFailure as e:
        summary["error"] = str(e)
    except OCPPError as e:
        summary["error"] = f"OCPP error (schema validation or CALLERROR): {type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - report everything clearly
        summary["error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc(file=sys.stderr)
    if cp is not None:
        summary["commands_received"] = [c["action"] for c in cp.commands]
        summary["commands_rejected"] = [c["action"] for c in cp.rejected]
    emit(summary)
    if not summary["ok"]:
        print(f"charge_point.py: FAILED: {summary['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
