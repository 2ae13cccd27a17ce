//! Byte-level encoding of capture records: little-endian integers, length-prefixed byte strings,
//! and a reader that reports where a record ends too early.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record ends early: needs {needed} more bytes for {what}")]
pub struct Short {
    pub what: &'static str,
    pub needed: usize,
}

/// Appends values to a record payload.
#[derive(Default)]
pub struct Enc {
    pub buf: Vec<u8>,
}

impl Enc {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
        self
    }
    pub fn opt_str(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(s) => self.u8(1).bytes(s.as_bytes()),
            None => self.u8(0),
        }
    }
}

/// Reads values back from a record payload.
pub struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Short> {
        if self.buf.len() - self.pos < n {
            return Err(Short {
                what,
                needed: n - (self.buf.len() - self.pos),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Short> {
        Ok(self.take(1, what)?[0])
    }
    pub fn u16(&mut self, what: &'static str) -> Result<u16, Short> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap()))
    }
    pub fn u32(&mut self, what: &'static str) -> Result<u32, Short> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    pub fn u64(&mut self, what: &'static str) -> Result<u64, Short> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    pub fn i64(&mut self, what: &'static str) -> Result<i64, Short> {
        Ok(i64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], Short> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }
    pub fn string(&mut self, what: &'static str) -> Result<String, Short> {
        Ok(String::from_utf8_lossy(self.bytes(what)?).into_owned())
    }
    pub fn opt_string(&mut self, what: &'static str) -> Result<Option<String>, Short> {
        Ok(if self.u8(what)? == 1 {
            Some(self.string(what)?)
        } else {
            None
        })
    }
    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_short_reads() {
        let mut e = Enc::default();
        e.u8(7)
            .u16(300)
            .u32(70_000)
            .u64(u64::MAX)
            .i64(-5)
            .bytes(b"abc")
            .opt_str(Some("x"))
            .opt_str(None);
        let mut d = Dec::new(&e.buf);
        assert_eq!(d.u8("a").unwrap(), 7);
        assert_eq!(d.u16("b").unwrap(), 300);
        assert_eq!(d.u32("c").unwrap(), 70_000);
        assert_eq!(d.u64("d").unwrap(), u64::MAX);
        assert_eq!(d.i64("e").unwrap(), -5);
        assert_eq!(d.bytes("f").unwrap(), b"abc");
        assert_eq!(d.opt_string("g").unwrap().as_deref(), Some("x"));
        assert_eq!(d.opt_string("h").unwrap(), None);
        assert!(d.is_empty());
        let mut d = Dec::new(&[3, 0, 0, 0, b'a']);
        assert_eq!(
            d.bytes("path").unwrap_err(),
            Short {
                what: "path",
                needed: 2
            }
        );
    }
}
