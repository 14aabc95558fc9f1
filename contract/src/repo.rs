//! Repositories: [`RepoName`] (`owner/name`, downstream and upstream alike) and the
//! downstream's allowlist level [`RepoLevel`].

use crate::text::{invalid, string_enum, string_type};
use crate::InvalidValue;

/// A GitHub repository `owner/name`, with GitHub's character rules: the owner is 1-39 ASCII
/// letters, digits or single hyphens, not starting or ending with a hyphen; the name is 1-100
/// of `[A-Za-z0-9._-]` and not `.` or `..`. Case is kept as sent: the relay passes the OIDC
/// claim's canonical spelling, and the job key must match HUD's byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoName {
    full: String,
    slash: usize,
}

impl RepoName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let Some((owner, name)) = s.split_once('/') else {
            return invalid(format!("expected `owner/name`, got {s:?}"));
        };
        if owner.is_empty() || owner.len() > 39 {
            return invalid("owner must be 1 to 39 characters");
        }
        if !owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return invalid("owner may contain only ASCII letters, digits and hyphens");
        }
        if owner.starts_with('-') || owner.ends_with('-') || owner.contains("--") {
            return invalid("owner may not start or end with a hyphen or contain `--`");
        }
        if name.is_empty() || name.len() > 100 {
            return invalid("repository name must be 1 to 100 characters");
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return invalid(
                "repository name may contain only ASCII letters, digits, `.`, `_` and `-` \
                 (and exactly one `/` separates it from the owner)",
            );
        }
        if name == "." || name == ".." {
            return invalid("repository name may not be `.` or `..`");
        }
        Ok(Self {
            full: s.to_owned(),
            slash: owner.len(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    pub fn owner(&self) -> &str {
        &self.full[..self.slash]
    }

    pub fn name(&self) -> &str {
        &self.full[self.slash + 1..]
    }
}
string_type!(RepoName);

string_enum!(
    /// The downstream repo's level on the relay allowlist.
    RepoLevel, "level", { L1 => "L1", L2 => "L2", L3 => "L3", L4 => "L4" }
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    #[test]
    fn repo_names_follow_github_rules() {
        for ok in [
            "intel/torch-xpu-ops",
            "pytorch/pytorch",
            "a/b",
            "A-1/x.y_z-",
            "o/.github",
            "o/...",
        ] {
            assert!(RepoName::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "",
            "pytorch",
            "/pytorch",
            "pytorch/",
            "-x/y",
            "x-/y",
            "x--y/z",
            "x_y/z",
            "a/b/c",
            "a/.",
            "a/..",
            "a/b c",
            "a/ü",
            &format!("{}/x", "a".repeat(40)),
            &format!("x/{}", "a".repeat(101)),
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let r = RepoName::parse(&format!("{}/{}", "a".repeat(39), "b".repeat(100)))
            .expect("longest valid repo name");
        assert_eq!(r.owner().len(), 39);
        assert_eq!(r.name().len(), 100);
    }

    #[test]
    fn levels_round_trip_and_refuse_other_spellings() {
        for l in RepoLevel::ALL {
            assert_eq!(RepoLevel::parse(l.as_str()), Ok(*l));
        }
        assert!(RepoLevel::parse("L5").is_err());
        assert!(RepoLevel::parse("l1").is_err());
    }

    proptest! {
        #[test]
        fn generated_repo_names_are_accepted(
            owner in "[A-Za-z0-9]([A-Za-z0-9]|-[A-Za-z0-9]){0,18}",
            name in "[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}",
        ) {
            let full = format!("{owner}/{name}");
            let r = RepoName::parse(&full).expect("generated valid name");
            prop_assert_eq!(r.owner(), owner.as_str());
            prop_assert_eq!(r.name(), name.as_str());
        }

        #[test]
        fn repo_parse_never_panics(s in any::<String>()) {
            let _ = RepoName::parse(&s);
        }
    }
}
