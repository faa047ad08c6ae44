//! A report's statuses and the moves between them.
//!
//! ```text
//! new ─► in_review ─┬─► confirmed ──────────────┬─► closed
//!                   ├─► rejected ───────────────┘
//!                   └─► inspection_scheduled ─┬─► confirmed
//!                                             └─► rejected
//! ```
//!
//! The table is written once, in [`ReportStatus::can_move_to`]; the store
//! writes no status that has not passed it.

use std::fmt;

/// Where a report is in its review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    /// Sent by a citizen, not yet looked at.
    New,
    /// An inspector is looking at it.
    InReview,
    /// The violation is confirmed (the code may have been blocked with it).
    Confirmed,
    /// Not a violation, or not enough to act on.
    Rejected,
    /// An on-site inspection is planned.
    InspectionScheduled,
    /// Done; nothing more will happen.
    Closed,
}

impl ReportStatus {
    pub const ALL: [ReportStatus; 6] = [
        Self::New,
        Self::InReview,
        Self::Confirmed,
        Self::Rejected,
        Self::InspectionScheduled,
        Self::Closed,
    ];

    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::InReview => "in_review",
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
            Self::InspectionScheduled => "inspection_scheduled",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<ReportStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether an inspector may move a report from `self` to `to`.
    pub fn can_move_to(self, to: ReportStatus) -> bool {
        use ReportStatus::*;
        matches!(
            (self, to),
            (New, InReview)
                | (InReview, Confirmed | Rejected | InspectionScheduled)
                | (InspectionScheduled, Confirmed | Rejected)
                | (Confirmed | Rejected, Closed)
        )
    }

    /// The key of the status's name in `locales/*/reports.ftl`.
    pub fn message_key(self) -> String {
        format!("report-status-{}", self.as_str().replace('_', "-"))
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ReportStatus::{self, *};

    #[test]
    fn every_move_follows_the_table() {
        let allowed = [
            (New, InReview),
            (InReview, Confirmed),
            (InReview, Rejected),
            (InReview, InspectionScheduled),
            (InspectionScheduled, Confirmed),
            (InspectionScheduled, Rejected),
            (Confirmed, Closed),
            (Rejected, Closed),
        ];
        for from in ReportStatus::ALL {
            for to in ReportStatus::ALL {
                assert_eq!(
                    from.can_move_to(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in ReportStatus::ALL {
            assert_eq!(ReportStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ReportStatus::parse("NEW"), None);
    }
}
