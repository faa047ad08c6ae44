//! Kazakhstan's taxpayer numbers: the BIN of a legal entity and the IIN of an
//! individual (including sole proprietors). Both are 12 digits with a control
//! digit; a participant of the marking system is identified by one of them.
//!
//! The control digit: the weighted sum of the first 11 digits with weights
//! 1..=11, modulo 11. A result of 10 means: weigh again with 3..=11, 1, 2; a
//! second 10 means the number is never issued, so it is refused.
//!
//! Structure checked beyond the control digit:
//! - IIN: `YYMMDD` birth date (a real date), then a century-and-sex digit 0–6
//!   (0 for foreigners whose date is unknown is tolerated).
//! - BIN: `YYMM` of registration (month 01–12), then the entity type 4
//!   (resident), 5 (non-resident) or 6 (joint business of a sole proprietor).
//!   The fifth digit is how the two are told apart: in an IIN it is the first
//!   digit of a day, 0–3.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a BIN or IIN was refused. `code()` is the stable machine code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TaxpayerIdError {
    #[error("must be exactly 12 digits")]
    Format,
    #[error("control digit is wrong (expected {expected})")]
    ControlDigit { expected: u8 },
    #[error("control digit cannot be computed: such a number is never issued")]
    NeverIssued,
    #[error("positions 1-6 are not a real date of birth")]
    BirthDate,
    #[error("position 7 must be 0-6 (century and sex)")]
    Century,
    #[error("positions 3-4 must be a month 01-12")]
    Month,
    #[error("position 5 must be 4, 5 or 6 for a legal entity")]
    EntityType,
}

impl TaxpayerIdError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Format => "taxpayer_id_format",
            Self::ControlDigit { .. } => "taxpayer_id_control_digit",
            Self::NeverIssued => "taxpayer_id_never_issued",
            Self::BirthDate => "iin_birth_date",
            Self::Century => "iin_century",
            Self::Month => "bin_month",
            Self::EntityType => "bin_entity_type",
        }
    }
}

/// The control digit of the first 11 digits, or `None` when the algorithm
/// gives 10 twice (such numbers are not issued).
pub fn control_digit(first11: &[u8; 11]) -> Option<u8> {
    let weighted = |offset: u32| -> u32 {
        first11
            .iter()
            .enumerate()
            .map(|(i, d)| u32::from(*d) * ((i as u32 + offset) % 11 + 1))
            .sum::<u32>()
            % 11
    };
    match weighted(0) {
        10 => match weighted(2) {
            10 => None,
            d => Some(d as u8),
        },
        d => Some(d as u8),
    }
}

fn digits(text: &str) -> Result<[u8; 12], TaxpayerIdError> {
    let bytes = text.as_bytes();
    if bytes.len() != 12 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(TaxpayerIdError::Format);
    }
    let mut out = [0u8; 12];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = b - b'0';
    }
    let mut first11 = [0u8; 11];
    first11.copy_from_slice(&out[..11]);
    match control_digit(&first11) {
        None => Err(TaxpayerIdError::NeverIssued),
        Some(expected) if expected != out[11] => Err(TaxpayerIdError::ControlDigit { expected }),
        Some(_) => Ok(out),
    }
}

fn two(d: &[u8; 12], at: usize) -> u8 {
    d[at] * 10 + d[at + 1]
}

/// Business identification number of a legal entity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bin(String);

impl Bin {
    pub fn parse(text: &str) -> Result<Self, TaxpayerIdError> {
        let d = digits(text)?;
        if !(1..=12).contains(&two(&d, 2)) {
            return Err(TaxpayerIdError::Month);
        }
        if !(4..=6).contains(&d[4]) {
            return Err(TaxpayerIdError::EntityType);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Individual identification number of a person or sole proprietor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iin(String);

impl Iin {
    pub fn parse(text: &str) -> Result<Self, TaxpayerIdError> {
        let d = digits(text)?;
        if d[6] > 6 {
            return Err(TaxpayerIdError::Century);
        }
        // Century from the seventh digit: 1-2 → 1800s, 3-4 → 1900s, 5-6 → 2000s.
        // 0 (foreigners) carries no century; check the date in a leap century.
        let century = match d[6] {
            1 | 2 => 1800,
            3 | 4 => 1900,
            5 | 6 => 2000,
            _ => 2000,
        };
        let year = century + i32::from(two(&d, 0));
        let month = time::Month::try_from(two(&d, 2)).map_err(|_| TaxpayerIdError::BirthDate)?;
        time::Date::from_calendar_date(year, month, two(&d, 4))
            .map_err(|_| TaxpayerIdError::BirthDate)?;
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Either number: what a participant registers with and what an EDS
/// certificate's subject carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TaxpayerId {
    Bin(Bin),
    Iin(Iin),
}

impl TaxpayerId {
    /// A BIN when the fifth digit says legal entity, an IIN otherwise.
    pub fn parse(text: &str) -> Result<Self, TaxpayerIdError> {
        let d = digits(text)?;
        if d[4] >= 4 {
            Bin::parse(text).map(Self::Bin)
        } else {
            Iin::parse(text).map(Self::Iin)
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Bin(b) => b.as_str(),
            Self::Iin(i) => i.as_str(),
        }
    }
}

macro_rules! string_forms {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl TryFrom<String> for $t {
            type Error = TaxpayerIdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.as_str().to_owned()
            }
        }
        impl std::str::FromStr for $t {
            type Err = TaxpayerIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    )*};
}
string_forms!(Bin, Iin, TaxpayerId);

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, TaxpayerIdError>) {
        let got = TaxpayerId::parse(input).map(|id| match id {
            TaxpayerId::Bin(_) => "bin",
            TaxpayerId::Iin(_) => "iin",
        });
        assert_eq!(got, expected, "input {input:?}");
    }

    #[test]
    fn taxpayer_numbers() {
        // A real, published BIN (a bank registered December 1997).
        check("971240001315", Ok("bin"));
        // Worked by hand: 9+4+6+21+11 = 51, 51 mod 11 = 7.
        check("900101300017", Ok("iin"));
        check(
            "900101300018",
            Err(TaxpayerIdError::ControlDigit { expected: 7 }),
        );
        check(
            "971240001316",
            Err(TaxpayerIdError::ControlDigit { expected: 5 }),
        );
        check("97124000131", Err(TaxpayerIdError::Format));
        check("9712400013150", Err(TaxpayerIdError::Format));
        check("97124000131a", Err(TaxpayerIdError::Format));
        check("", Err(TaxpayerIdError::Format));
        check("９７１２４０００１３１５", Err(TaxpayerIdError::Format));
    }

    fn with_control(first11: &str) -> String {
        let mut d = [0u8; 11];
        for (o, b) in d.iter_mut().zip(first11.bytes()) {
            *o = b - b'0';
        }
        format!("{first11}{}", control_digit(&d).unwrap())
    }

    #[test]
    fn structure_beyond_the_control_digit() {
        // 31 February is not a birth date.
        assert_eq!(
            Iin::parse(&with_control("90023130001")),
            Err(TaxpayerIdError::BirthDate)
        );
        // 29 February 2000 is (born in the 2000s: seventh digit 5).
        assert!(Iin::parse(&with_control("00022950001")).is_ok());
        assert_eq!(
            Iin::parse(&with_control("90010170001")),
            Err(TaxpayerIdError::Century)
        );
        assert_eq!(
            Bin::parse(&with_control("97134000131")),
            Err(TaxpayerIdError::Month)
        );
        assert_eq!(
            Bin::parse(&with_control("97123000131")),
            Err(TaxpayerIdError::EntityType)
        );
    }

    #[test]
    fn the_second_weighting_is_used_when_the_first_gives_ten() {
        // Find bodies where the first pass gives 10 and check the second pass.
        let mut seen = 0;
        for n in 0..20_000u64 {
            let body = format!("{:011}", 90_010_130_000 + n);
            let mut d = [0u8; 11];
            for (o, b) in d.iter_mut().zip(body.bytes()) {
                *o = b - b'0';
            }
            let first: u32 = d
                .iter()
                .enumerate()
                .map(|(i, x)| u32::from(*x) * (i as u32 + 1))
                .sum::<u32>()
                % 11;
            if first == 10 {
                seen += 1;
                let second: u32 = d
                    .iter()
                    .enumerate()
                    .map(|(i, x)| u32::from(*x) * ((i as u32 + 2) % 11 + 1))
                    .sum::<u32>()
                    % 11;
                let expected = (second != 10).then_some(second as u8);
                assert_eq!(control_digit(&d), expected, "body {body}");
            }
        }
        assert!(seen > 100);
    }
}
