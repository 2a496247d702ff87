#!/usr/bin/env python3
"""Checks tests/data/valid.json and invalid.json against the official OCPP 1.6 JSON
schemas shipped by the PyPI package `ocpp` (pip install ocpp jsonschema).

Validation is done the way that package does it (Draft 4, decimals parsed as
decimal.Decimal so `multipleOf: 0.1` is exact, no `format` checking). Cases this crate
checks beyond that (dateTime and URI syntax, 32-bit integers) are expected to pass the
oracle. For invalid cases the oracle's failing keyword must map to the same OCPP-J code.
Exit status 1 on any disagreement.
"""
import decimal
import json
import os
import sys

import jsonschema
import ocpp

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(os.path.dirname(ocpp.__file__), "v16", "schemas")

KEYWORD_CODE = {
    "required": "OccurenceConstraintViolation",
    "minItems": "OccurenceConstraintViolation",
    "type": "TypeConstraintViolation",
    "enum": "PropertyConstraintViolation",
    "maxLength": "PropertyConstraintViolation",
    "multipleOf": "PropertyConstraintViolation",
    "additionalProperties": "FormationViolation",
}
# Checks this crate makes that the package's validation does not (it checks no formats).
BEYOND_ORACLE = ("not a valid dateTime", "is not an absolute URI", "is out of range")

_validators = {}


def validator(action, kind):
    name = action + ("Response" if kind == "conf" else "")
    if name not in _validators:
        with open(os.path.join(SCHEMAS, name + ".json"), encoding="utf-8-sig") as f:
            _validators[name] = jsonschema.Draft4Validator(json.load(f, parse_float=decimal.Decimal))
    return _validators[name]


def load(name):
    with open(os.path.join(HERE, name)) as f:
        return json.load(f, parse_float=decimal.Decimal)


def main():
    bad = 0
    for action, kind, payload in load("valid.json"):
        errors = list(validator(action, kind).iter_errors(payload))
        if errors:
            bad += 1
            print(f"valid case rejected by the oracle: {action} {kind} {payload}: {errors[0].message}")
    for action, kind, payload, code, part in load("invalid.json"):
        errors = list(validator(action, kind).iter_errors(payload))
        if not errors:
            if not any(b in part for b in BEYOND_ORACLE):
                bad += 1
                print(f"invalid case accepted by the oracle: {action} {kind} {payload}")
            continue
        codes = {KEYWORD_CODE.get(e.validator, e.validator) for e in errors}
        if code not in codes:
            bad += 1
            print(f"code differs: {action} {kind} {payload}: ours {code}, oracle {codes}")
    print("oracle check:", "ok" if bad == 0 else f"{bad} disagreements")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
