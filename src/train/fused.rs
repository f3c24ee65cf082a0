//! The fused training engine for dense autoencoders and dense VAEs.
//! (Being written: see the module docs once it lands.)

use candle_nn::VarMap;
use rand_chacha::ChaCha8Rng;

use crate::model::loss::LossTerms;
use crate::model::TrainConfig;

pub struct FusedMlp {}

impl FusedMlp {
    pub fn supports(_cfg: &TrainConfig) -> bool {
        false
    }
    pub fn new(_cfg: &TrainConfig, _varmap: &VarMap) -> candle_core::Result<Self> {
        Ok(Self {})
    }
    pub fn step(
        &mut self,
        _input: &[f32],
        _target: &[f32],
        _b: usize,
        _rng: &mut ChaCha8Rng,
    ) -> candle_core::Result<LossTerms> {
        unimplemented!()
    }
    pub fn write_to(&self, _varmap: &VarMap) -> candle_core::Result<()> {
        Ok(())
    }
    pub fn read_from(&mut self, _varmap: &VarMap) -> candle_core::Result<()> {
        Ok(())
    }
}
