// Baseline: a minimal OCPP 1.6-J central system on the npm `ocpp-rpc` library, in strict
// mode (every payload, in and out, validated against the OCPP 1.6 JSON schemas).
// Every frame, in and out, is appended to a file (one line: timestamp, station, direction,
// frame) through a buffered write stream.
//
//     node baseline_ocpp_rpc.mjs --port 9102 --log frames.log
import fs from 'node:fs';
import rpc from 'ocpp-rpc';

const { RPCServer } = rpc;

function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : def;
}
const host = arg('host', '127.0.0.1');
const port = Number(arg('port', '9102'));
const log = fs.createWriteStream(arg('log', 'frames-ocpp-rpc.log'), { flags: 'a', highWaterMark: 1 << 16 });

const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true });
const now = () => new Date().toISOString();
let tx = 0;

server.on('client', (client) => {
    client.on('message', ({ message, outbound }) => {
        log.write(`${now()}\t${client.identity}\t${outbound ? 'out' : 'in'}\t${message}\n`);
    });
    client.handle('BootNotification', () => ({ status: 'Accepted', interval: 300, currentTime: now() }));
    client.handle('Heartbeat', () => ({ currentTime: now() }));
    client.handle('StatusNotification', () => ({}));
    client.handle('MeterValues', () => ({}));
    client.handle('Authorize', () => ({ idTagInfo: { status: 'Accepted' } }));
    client.handle('StartTransaction', () => ({ transactionId: ++tx, idTagInfo: { status: 'Accepted' } }));
    client.handle('StopTransaction', () => ({}));
    client.handle('DataTransfer', () => ({ status: 'UnknownVendorId' }));
    client.handle('DiagnosticsStatusNotification', () => ({}));
    client.handle('FirmwareStatusNotification', () => ({}));
});

await server.listen(port, host);
console.log(`ocpp-rpc baseline (strict) listening on ws://${host}:${port}/ocpp/{id}`);
