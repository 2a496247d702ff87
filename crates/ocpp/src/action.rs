//! The 28 actions of OCPP 1.6's six feature profiles.

use std::fmt;
use std::str::FromStr;

/// Which OCPP 1.6 feature profile an action belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    Core,
    FirmwareManagement,
    LocalAuthListManagement,
    Reservation,
    SmartCharging,
    RemoteTrigger,
}

/// Who may send the CALL of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    ChargePoint,
    CentralSystem,
    Both,
}

macro_rules! actions {
    ($( $name:ident => $profile:ident, $init:ident; )*) => {
        /// An OCPP 1.6 action.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $( $name, )* }

        impl Action {
            pub const ALL: &'static [Action] = &[ $( Action::$name, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( Action::$name => stringify!($name), )* }
            }

            pub fn profile(self) -> Profile {
                match self { $( Action::$name => Profile::$profile, )* }
            }

            pub fn initiator(self) -> Initiator {
                match self { $( Action::$name => Initiator::$init, )* }
            }
        }

        impl FromStr for Action {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $( stringify!($name) => Ok(Action::$name), )* _ => Err(()) }
            }
        }
    };
}

actions! {
    Authorize => Core, ChargePoint;
    BootNotification => Core, ChargePoint;
    DataTransfer => Core, Both;
    Heartbeat => Core, ChargePoint;
    MeterValues => Core, ChargePoint;
    StartTransaction => Core, ChargePoint;
    StatusNotification => Core, ChargePoint;
    StopTransaction => Core, ChargePoint;
    ChangeAvailability => Core, CentralSystem;
    ChangeConfiguration => Core, CentralSystem;
    ClearCache => Core, CentralSystem;
    GetConfiguration => Core, CentralSystem;
    RemoteStartTransaction => Core, CentralSystem;
    RemoteStopTransaction => Core, CentralSystem;
    Reset => Core, CentralSystem;
    UnlockConnector => Core, CentralSystem;
    DiagnosticsStatusNotification => FirmwareManagement, ChargePoint;
    FirmwareStatusNotification => FirmwareManagement, ChargePoint;
    GetDiagnostics => FirmwareManagement, CentralSystem;
    UpdateFirmware => FirmwareManagement, CentralSystem;
    GetLocalListVersion => LocalAuthListManagement, CentralSystem;
    SendLocalList => LocalAuthListManagement, CentralSystem;
    CancelReservation => Reservation, CentralSystem;
    ReserveNow => Reservation, CentralSystem;
    ClearChargingProfile => SmartCharging, CentralSystem;
    GetCompositeSchedule => SmartCharging, CentralSystem;
    SetChargingProfile => SmartCharging, CentralSystem;
    TriggerMessage => RemoteTrigger, CentralSystem;
}

impl Action {
    /// Whether a charge point may send this action's CALL.
    pub fn sent_by_charge_point(self) -> bool {
        matches!(self.initiator(), Initiator::ChargePoint | Initiator::Both)
    }

    /// Whether the central system may send this action's CALL.
    pub fn sent_by_central_system(self) -> bool {
        matches!(self.initiator(), Initiator::CentralSystem | Initiator::Both)
    }

    /// The actions the message log keeps at level `info` (SPEC.md, Log levels).
    pub fn is_info_action(self) -> bool {
        matches!(
            self,
            Action::Authorize
                | Action::BootNotification
                | Action::StartTransaction
                | Action::StatusNotification
                | Action::StopTransaction
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_28_actions_and_names_round_trip() {
        assert_eq!(Action::ALL.len(), 28);
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(*a));
        }
        assert!("Foo".parse::<Action>().is_err());
        assert_eq!(Action::ALL.iter().filter(|a| a.sent_by_charge_point()).count(), 10);
        assert_eq!(Action::ALL.iter().filter(|a| a.sent_by_central_system()).count(), 19);
    }
}
