//! Path-prefix matching for Falco's `pmatch`: `fd.name pmatch (/etc, /var/*/log)` holds when a
//! listed path is the value or one of its parent directories; components may be globs.

use super::Glob;

#[derive(Debug, Clone)]
enum Comp {
    Lit(Box<[u8]>),
    Glob(Glob),
}

impl Comp {
    fn matches(&self, c: &[u8]) -> bool {
        match self {
            Comp::Lit(l) => **l == *c,
            Comp::Glob(g) => g.matches(c),
        }
    }
}

/// A set of path prefixes.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathPrefixes {
    prefixes: Vec<Vec<Comp>>,
}

fn components(p: &[u8]) -> impl Iterator<Item = &[u8]> {
    p.split(|c| *c == b'/').filter(|c| !c.is_empty())
}

impl PathPrefixes {
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let prefixes = paths
            .into_iter()
            .map(|p| {
                components(p)
                    .map(|c| {
                        if c.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
                            Comp::Glob(Glob::new(c, false))
                        } else {
                            Comp::Lit(c.into())
                        }
                    })
                    .collect()
            })
            .collect();
        PathPrefixes { prefixes }
    }

    pub fn matches(&self, path: &[u8]) -> bool {
        self.prefixes.iter().any(|prefix| {
            let mut comps = components(path);
            prefix
                .iter()
                .all(|want| comps.next().is_some_and(|c| want.matches(c)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::PathPrefixes;

    #[test]
    fn matches_whole_components() {
        let p = PathPrefixes::new([
            b"/var/run".as_slice(),
            b"/etc".as_slice(),
            b"/var/*/x.txt".as_slice(),
        ]);
        assert!(p.matches(b"/etc/passwd"));
        assert!(p.matches(b"/etc"));
        assert!(!p.matches(b"/etcx/passwd"));
        assert!(p.matches(b"/var/run/docker.sock"));
        assert!(!p.matches(b"/var/spool/x"));
        assert!(p.matches(b"/var/lib/x.txt"));
        assert!(!p.matches(b"/opt/data/file.txt"));
    }
}
