//! When the node reveals its next beacon key (design §8.4): period `p`'s
//! reveals are accepted in the first `beacon_reveal_blocks` heights of
//! period `p+1`, one per node and period, each the preimage of the last.

use comrade_consensus::compute::ComputeParams;
use comrade_primitives::proto::compute::v1 as pb;

/// The period to reveal for if a tx sent now lands in block `next` (the
/// height after the latest committed one), or `None` when `next` is outside
/// every reveal window, the period is already revealed or the chain is used
/// up.
pub(crate) fn due(params: &ComputeParams, chain: &pb::KeyChain, next: u64) -> Option<u64> {
    let q = params.period_of(next);
    let p = q.checked_sub(1)?;
    let open = params.period_start(q);
    if next >= open.saturating_add(params.beacon_reveal_blocks) {
        return None;
    }
    if chain.used >= chain.len || (chain.used > 0 && chain.last_period >= p) {
        return None;
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params() -> ComputeParams {
        ComputeParams {
            beacon_period_blocks: 10,
            beacon_reveal_blocks: 3,
            ..Default::default()
        }
    }

    #[test]
    fn a_reveal_is_due_only_in_the_first_blocks_of_the_next_period() {
        let p = params();
        let fresh = pb::KeyChain {
            len: 5,
            ..Default::default()
        };
        // Period 0 is heights 1..=10; its window is 11, 12, 13.
        let due_at: Vec<u64> = (1..=35).filter(|&h| due(&p, &fresh, h).is_some()).collect();
        assert_eq!(due_at, vec![11, 12, 13, 21, 22, 23, 31, 32, 33]);
        assert_eq!(due(&p, &fresh, 12), Some(0));
        assert_eq!(due(&p, &fresh, 31), Some(2));
    }

    #[test]
    fn a_revealed_period_or_a_used_up_chain_is_not_due() {
        let p = params();
        let revealed = pb::KeyChain {
            len: 5,
            used: 1,
            last_period: 1,
            ..Default::default()
        };
        assert_eq!(due(&p, &revealed, 22), None, "period 1 is revealed");
        assert_eq!(due(&p, &revealed, 31), Some(2));
        let used_up = pb::KeyChain {
            len: 2,
            used: 2,
            last_period: 1,
            ..Default::default()
        };
        assert_eq!(due(&p, &used_up, 31), None);
    }
}
