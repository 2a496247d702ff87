// OCPP 1.6 knowledge the pages need: the actions, the error codes explained in plain words
// with what an operator usually does, and a valid example payload for every command.
// No DOM here, so Node can import this file too (the browser tests check the examples).

/** The 28 actions of the six OCPP 1.6 feature profiles (DataTransfer counted once). */
export const ACTIONS = [
  'Authorize', 'BootNotification', 'CancelReservation', 'ChangeAvailability', 'ChangeConfiguration',
  'ClearCache', 'ClearChargingProfile', 'DataTransfer', 'DiagnosticsStatusNotification',
  'FirmwareStatusNotification', 'GetCompositeSchedule', 'GetConfiguration', 'GetDiagnostics',
  'GetLocalListVersion', 'Heartbeat', 'MeterValues', 'RemoteStartTransaction', 'RemoteStopTransaction',
  'ReserveNow', 'Reset', 'SendLocalList', 'SetChargingProfile', 'StartTransaction', 'StatusNotification',
  'StopTransaction', 'TriggerMessage', 'UnlockConnector', 'UpdateFirmware',
];

/** Connection events shown in the log next to the frames. */
export const EVENTS = ['Connected', 'Disconnected'];

/** The actions the central system sends (DataTransfer goes both ways). */
export const COMMANDS = [
  'CancelReservation', 'ChangeAvailability', 'ChangeConfiguration', 'ClearCache', 'ClearChargingProfile',
  'DataTransfer', 'GetCompositeSchedule', 'GetConfiguration', 'GetDiagnostics', 'GetLocalListVersion',
  'RemoteStartTransaction', 'RemoteStopTransaction', 'ReserveNow', 'Reset', 'SendLocalList',
  'SetChargingProfile', 'TriggerMessage', 'UnlockConnector', 'UpdateFirmware',
];

export const MESSAGE_TYPES = ['CALL', 'CALLRESULT', 'CALLERROR', 'EVENT'];

/** Statuses seen in the Status column, for the filter's suggestions. */
export const STATUSES = [
  'Available', 'Preparing', 'Charging', 'SuspendedEVSE', 'SuspendedEV', 'Finishing', 'Reserved', 'Unavailable',
  'Faulted', 'Accepted', 'Rejected', 'Pending', 'Blocked', 'Expired', 'Invalid', 'ConcurrentTx', 'Occupied',
  'Scheduled', 'RebootRequired', 'NotSupported', 'VersionMismatch', 'Failed', 'Unlocked', 'UnlockFailed',
  'NotImplemented', 'UnknownMessageId', 'UnknownVendorId', 'Idle', 'Uploaded', 'UploadFailed', 'Uploading',
  'Downloaded', 'DownloadFailed', 'Downloading', 'Installed', 'InstallationFailed', 'Installing',
];

/** ChargePointErrorCode (StatusNotification.errorCode): meaning and first step. */
export const CHARGE_POINT_ERRORS = {
  NoError: ['No error.', 'Nothing to do.'],
  ConnectorLockFailure: ['The cable lock failed to lock or unlock.', 'Send UnlockConnector; check the socket\'s lock.'],
  EVCommunicationError: ['Communication with the car failed (control pilot / ISO 15118).', 'Retry with another car; check the cable.'],
  GroundFailure: ['Ground fault: the residual current device tripped.', 'Inspect on site; reset the RCD.'],
  HighTemperature: ['The temperature is too high.', 'Check cooling and load; it often recovers by itself.'],
  InternalError: ['A fault inside the charger.', 'Reset (Soft, then Hard); contact vendor support with the vendorErrorCode.'],
  LocalListConflict: ['The local authorization list conflicts with the central system\'s answer.', 'Resend the local list (SendLocalList, updateType Full).'],
  OtherError: ['Another error; the details are in `info` and `vendorErrorCode`.', 'Read the vendor codes (see the payload).'],
  OverCurrentFailure: ['Over-current protection tripped.', 'Check the car and the circuit.'],
  OverVoltage: ['The voltage is above the allowed range.', 'Check the grid connection.'],
  PowerMeterFailure: ['The energy meter cannot be read.', 'Transactions may lack energy values; contact vendor support.'],
  PowerSwitchFailure: ['The contactor/relay failed.', 'Inspect on site.'],
  ReaderFailure: ['The RFID reader failed.', 'Remote start still works; replace the reader.'],
  ResetFailure: ['The charger could not reset.', 'Send a Hard reset; power-cycle on site.'],
  UnderVoltage: ['The voltage is below the allowed range.', 'Check the grid connection.'],
  WeakSignal: ['Weak wireless (mobile) signal.', 'Check the modem and the antenna.'],
};

/** OCPP-J CALLERROR codes: what went wrong with a call and what to do. */
export const CALL_ERRORS = {
  NotImplemented: ['The receiver does not know this action at all.', 'The firmware does not implement it; check the firmware version or use another action. Retrying will not help.'],
  NotSupported: ['The receiver knows this action but does not support it.', 'The feature profile is not supported by this charger (see GetConfiguration SupportedFeatureProfiles); use an alternative.'],
  InternalError: ['The receiver failed internally while handling the call.', 'Retry later; if it keeps failing, Reset the charger and contact vendor support.'],
  ProtocolError: ['The payload was incomplete.', 'Check the request against the OCPP schema (see the validation note); a charger sending this needs a firmware fix from its vendor.'],
  SecurityError: ['A security problem stopped the receiver from doing the action.', 'Check the charger\'s security settings and credentials.'],
  FormationViolation: ['The payload was not valid JSON or had the wrong structure.', 'Look at the raw payload; a charger sending malformed frames needs a firmware fix from its vendor.'],
  PropertyConstraintViolation: ['A field has a value that is not allowed (e.g. an unknown enum value or too long).', 'Correct the named field; see the validation note for which one.'],
  OccurenceConstraintViolation: ['A required field is missing or a field appears too often.', 'Add the missing field or remove the duplicate; see the validation note.'],
  TypeConstraintViolation: ['A field has the wrong type (e.g. text instead of a number).', 'Send the field with the right type; see the validation note.'],
  GenericError: ['Some other error.', 'Read the error description and details.'],
};

/** Every error code a filter can choose. */
export const ERROR_CODES = [...new Set([...Object.keys(CHARGE_POINT_ERRORS), ...Object.keys(CALL_ERRORS)])];

/**
 * Explains an error code. A CALLERROR frame's code is an RPC error; otherwise it's what the
 * charger reported in a StatusNotification. Returns {code, meaning, hint} or null.
 */
export function explainError(code, messageType) {
  if (!code) return null;
  const table = messageType === 'CALLERROR' ? CALL_ERRORS : CHARGE_POINT_ERRORS;
  const e = table[code] || CALL_ERRORS[code] || CHARGE_POINT_ERRORS[code];
  if (!e) return { code, meaning: 'An error code that OCPP 1.6 does not define (vendor specific).', hint: 'Look at the payload and the vendor\'s documentation.' };
  return { code, meaning: e[0], hint: e[1] };
}

/** The text of an error code's tooltip. */
export function errorTooltip(code, messageType) {
  const e = explainError(code, messageType);
  return e ? `${e.meaning} What to do: ${e.hint}` : '';
}

function inOneHour() {
  return new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A valid example request for every central-system action (OCPP 1.6 schemas). */
export function exampleFor(action) {
  const examples = {
    CancelReservation: { reservationId: 1 },
    ChangeAvailability: { connectorId: 1, type: 'Inoperative' },
    ChangeConfiguration: { key: 'HeartbeatInterval', value: '300' },
    ClearCache: {},
    ClearChargingProfile: { connectorId: 1, chargingProfilePurpose: 'TxDefaultProfile' },
    DataTransfer: { vendorId: 'com.example', messageId: 'Ping', data: 'hello' },
    GetCompositeSchedule: { connectorId: 1, duration: 3600, chargingRateUnit: 'W' },
    GetConfiguration: { key: ['HeartbeatInterval', 'MeterValueSampleInterval'] },
    GetDiagnostics: { location: 'ftp://diagnostics.example.com/upload/', retries: 1, retryInterval: 60 },
    GetLocalListVersion: {},
    RemoteStartTransaction: { connectorId: 1, idTag: 'ABC12345' },
    RemoteStopTransaction: { transactionId: 1 },
    ReserveNow: { connectorId: 1, expiryDate: inOneHour(), idTag: 'ABC12345', reservationId: 1 },
    Reset: { type: 'Soft' },
    SendLocalList: {
      listVersion: 1,
      updateType: 'Full',
      localAuthorizationList: [{ idTag: 'ABC12345', idTagInfo: { status: 'Accepted' } }],
    },
    SetChargingProfile: {
      connectorId: 1,
      csChargingProfiles: {
        chargingProfileId: 1,
        stackLevel: 0,
        chargingProfilePurpose: 'TxDefaultProfile',
        chargingProfileKind: 'Relative',
        chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16.0 }] },
      },
    },
    TriggerMessage: { requestedMessage: 'StatusNotification', connectorId: 1 },
    UnlockConnector: { connectorId: 1 },
    UpdateFirmware: { location: 'https://firmware.example.com/fw-1.2.3.bin', retrieveDate: inOneHour(), retries: 1 },
  };
  return examples[action] ?? {};
}

/** One line on what each command does, shown in the console. */
export const COMMAND_HELP = {
  CancelReservation: 'Cancels a reservation made with ReserveNow.',
  ChangeAvailability: 'Makes a connector (or 0 = the whole station) Operative or Inoperative.',
  ChangeConfiguration: 'Sets one configuration key; the answer says Accepted, Rejected, RebootRequired or NotSupported.',
  ClearCache: 'Clears the station\'s authorization cache.',
  ClearChargingProfile: 'Removes charging profiles (all, or those matching the given fields).',
  DataTransfer: 'Sends vendor-specific data.',
  GetCompositeSchedule: 'Asks for the resulting charging schedule of a connector.',
  GetConfiguration: 'Reads configuration keys (all keys when `key` is left out).',
  GetDiagnostics: 'Asks the station to upload a diagnostics file to `location`.',
  GetLocalListVersion: 'Reads the version of the local authorization list.',
  RemoteStartTransaction: 'Starts a charging session for an idTag.',
  RemoteStopTransaction: 'Stops a running transaction.',
  ReserveNow: 'Reserves a connector for an idTag until expiryDate.',
  Reset: 'Restarts the station: Soft (graceful) or Hard.',
  SendLocalList: 'Replaces (Full) or updates (Differential) the local authorization list.',
  SetChargingProfile: 'Installs a charging profile (power/current limit).',
  TriggerMessage: 'Asks the station to send a message now (e.g. StatusNotification).',
  UnlockConnector: 'Releases the cable lock of a connector.',
  UpdateFirmware: 'Asks the station to download and install firmware from `location`.',
};
