//! Error feedback: `e <- beta * e + delta; send C(e); e <- e - D(C(e))`, so what one window's
//! compression dropped is sent in a later window.

use crate::codec::Codec;
use crate::error::CodecError;

pub struct ErrorFeedback {
    beta: f32,
    residual: Vec<Vec<f32>>,
}

impl ErrorFeedback {
    pub fn new(codec: &Codec, beta: f32) -> Self {
        Self {
            beta,
            residual: codec.specs().iter().map(|s| vec![0.0; s.numel()]).collect(),
        }
    }

    /// Restores state saved with a miner's checkpoint (one buffer per tensor, in spec order).
    pub fn from_residual(
        codec: &Codec,
        beta: f32,
        residual: Vec<Vec<f32>>,
    ) -> Result<Self, CodecError> {
        if !codec.fits(residual.iter().map(Vec::len))
            || residual.iter().flatten().any(|v| !v.is_finite())
        {
            return Err(CodecError::Shape {
                why: "saved error-feedback state does not match the model or is not finite"
                    .to_string(),
            });
        }
        Ok(Self { beta, residual })
    }

    /// What has not been sent yet, one buffer per tensor.
    pub fn residual(&self) -> &[Vec<f32>] {
        &self.residual
    }

    /// Folds `delta` into the residual, encodes it, and keeps what the encoding lost.
    pub fn compress(&mut self, codec: &Codec, delta: &[&[f32]]) -> Result<Vec<u8>, CodecError> {
        if !codec.fits(delta.iter().map(|d| d.len()))
            || !codec.fits(self.residual.iter().map(Vec::len))
        {
            return Err(CodecError::Shape {
                why: "delta does not match the error-feedback state".to_string(),
            });
        }
        for (r, d) in self.residual.iter_mut().zip(delta) {
            r.iter_mut()
                .zip(*d)
                .for_each(|(r, &d)| *r = self.beta * *r + d);
        }
        let views: Vec<&[f32]> = self.residual.iter().map(Vec::as_slice).collect();
        let bytes = codec.encode(&views)?;
        let sent = codec.decode(&bytes)?;
        codec.apply(&[(&sent, -1.0)], &mut self.residual)?;
        Ok(bytes)
    }
}
