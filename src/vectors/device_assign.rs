//! k-means distance work as candle tensor operations, for `papermap topics --device cuda`.
//!
//! The data are uploaded once and kept on the device; each Lloyd step uploads the `k × d`
//! centroids, computes `‖c‖² − 2 X·Cᵀ` for blocks of rows with one matrix product, and brings back
//! only the argmin label and the minimum of each row (`O(n)` per iteration, not `O(n·k)`). The
//! centroid means are then summed on the host. Being plain candle ops, the same code runs on the
//! CPU device, which is how it is tested on machines without a GPU.
//!
//! The norms ride in the product itself: the rows go up as `[x | 1 | ‖x‖² | 0 …]` and the points
//! as `[−2p | ‖p‖² | 0 or 1 | 0 …]` ([`EXTRA`] columns), so a block of distances is one matrix
//! product, with no scaling pass and no broadcast addition (candle's CUDA kernel for a
//! broadcast operand spends 64-bit divisions on every element: about 40 G elements/s on an
//! H200, slower than the product it would follow).

use std::sync::Mutex;

use candle_core::{DType, Device, Tensor};

use super::assign::{first_lowest, Assign, Rows};
use super::VectorError;

/// Floats of one `rows × k` product block on the device (1 GiB).
const BLOCK_FLOATS: usize = 1 << 28;
/// Columns appended to rows and points (a multiple of 8 keeps cuBLAS's fast kernels).
const EXTRA: usize = 8;

/// [`Assign`] on a candle device.
pub struct DeviceAssign {
    device: Device,
    /// The data last seen (address and length) with its device copy and squared row norms.
    cache: Mutex<Option<Cached>>,
}

struct Cached {
    key: (usize, usize),
    /// `[x | 1 | ‖x‖² | 0 …]`, `[rows, dim + EXTRA]`.
    data: Tensor,
    /// `‖x‖²`, `[rows, 1]`.
    norms: Tensor,
}

impl DeviceAssign {
    /// Distance work on `device`.
    pub fn new(device: Device) -> Self {
        DeviceAssign {
            device,
            cache: Mutex::new(None),
        }
    }

    /// The device it runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The device copy of `data` and its squared row norms, uploaded on first use.
    fn upload(&self, data: Rows<'_>) -> Result<(Tensor, Tensor), VectorError> {
        let key = (data.as_slice().as_ptr() as usize, data.as_slice().len());
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.as_ref().filter(|c| c.key == key) {
            return Ok((c.data.clone(), c.norms.clone()));
        }
        let n = data.len();
        let (t, norms) = (|| {
            let x = Tensor::from_slice(data.as_slice(), (n, data.dim()), &self.device)?;
            let norms = x.sqr()?.sum_keepdim(1)?;
            let ones = Tensor::ones((n, 1), DType::F32, &self.device)?;
            let zeros = Tensor::zeros((n, EXTRA - 2), DType::F32, &self.device)?;
            let t = Tensor::cat(&[&x, &ones, &norms, &zeros], 1)?;
            Ok::<_, candle_core::Error>((t, norms))
        })()
        .map_err(dev)?;
        *cache = Some(Cached {
            key,
            data: t.clone(),
            norms: norms.clone(),
        });
        Ok((t, norms))
    }

    /// Squared distances of every row of `data` to every point, `[rows, points]` on the device.
    fn distance_tensor(&self, data: Rows<'_>, points: Rows<'_>) -> Result<Tensor, VectorError> {
        let (x, _) = self.upload(data)?;
        let p = self.points(points, true)?;
        x.matmul(&p.t().map_err(dev)?)
            .and_then(|d| d.relu())
            .map_err(dev)
    }

    /// `[−2p | ‖p‖² | 1 | 0 …]` per point (`with_row_norm`), else `[−2p | ‖p‖² | 0 | 0 …]`, on
    /// the device: times the uploaded rows, `‖x‖² − 2x·p + ‖p‖²` or `‖p‖² − 2x·p`.
    fn points(&self, points: Rows<'_>, with_row_norm: bool) -> Result<Tensor, VectorError> {
        let d = points.dim();
        let mut out = Vec::with_capacity(points.len() * (d + EXTRA));
        for i in 0..points.len() {
            let p = points.row(i);
            out.extend(p.iter().map(|&v| -2.0 * v));
            out.push(p.iter().map(|&v| v as f64 * v as f64).sum::<f64>() as f32);
            out.push(if with_row_norm { 1.0 } else { 0.0 });
            out.extend(std::iter::repeat_n(0f32, EXTRA - 2));
        }
        Tensor::from_vec(out, (points.len(), d + EXTRA), &self.device).map_err(dev)
    }

    fn block_rows(&self, n: usize, m: usize) -> usize {
        (BLOCK_FLOATS / m.max(1)).clamp(1, n.max(1))
    }
}

fn dev(e: candle_core::Error) -> VectorError {
    VectorError::Compute(e)
}

impl Assign for DeviceAssign {
    fn assign(
        &self,
        data: Rows<'_>,
        centroids: Rows<'_>,
        labels: &mut [u32],
        dist2: &mut [f32],
    ) -> Result<(), VectorError> {
        let (n, k) = (data.len(), centroids.len());
        if n == 0 || k == 0 {
            return Ok(());
        }
        let (x, xn) = self.upload(data)?;
        let ct = self.points(centroids, false)?.t().map_err(dev)?;
        let step = self.block_rows(n, k);
        let mut start = 0;
        while start < n {
            let len = step.min(n - start);
            let (lab, min) = (|| {
                let xb = x.narrow(0, start, len)?;
                // ‖x‖² is constant per row, so the argmin needs only ‖c‖² − 2 x·c.
                let v = xb.matmul(&ct)?;
                let lab = v.argmin_keepdim(1)?.flatten_all()?.to_vec1::<u32>()?;
                let min = v
                    .min_keepdim(1)?
                    .add(&xn.narrow(0, start, len)?)?
                    .relu()?
                    .flatten_all()?
                    .to_dtype(DType::F32)?
                    .to_vec1::<f32>()?;
                Ok::<_, candle_core::Error>((lab, min))
            })()
            .map_err(dev)?;
            labels[start..start + len].copy_from_slice(&lab);
            dist2[start..start + len].copy_from_slice(&min);
            start += len;
        }
        Ok(())
    }

    /// On the device: only `closest` (up and back) and the candidates' potentials cross the bus,
    /// not the `rows × candidates` distances (at a million rows and 8 candidates, a k-means++
    /// step of k = 1,000 took 68 ms on an H200 when they did).
    fn seed_step(
        &self,
        data: Rows<'_>,
        closest: &mut [f32],
        points: Rows<'_>,
    ) -> Result<usize, VectorError> {
        let (n, m) = (data.len(), points.len());
        if n == 0 || m == 0 {
            return Ok(0);
        }
        let d = self.distance_tensor(data, points)?;
        let (potentials, d) = (|| {
            let c = Tensor::from_slice(closest, (n, 1), &self.device)?;
            let d = d.to_dtype(DType::F64)?;
            let mins = d.broadcast_minimum(&c.to_dtype(DType::F64)?)?;
            let potentials = mins.sum(0)?.to_vec1::<f64>()?;
            Ok::<_, candle_core::Error>((potentials, (c, d)))
        })()
        .map_err(dev)?;
        let best = first_lowest(&potentials);
        let (c, d) = d;
        let lowered = (|| {
            c.to_dtype(DType::F64)?
                .minimum(&d.narrow(1, best, 1)?)?
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()
        })()
        .map_err(dev)?;
        closest.copy_from_slice(&lowered);
        Ok(best)
    }

    fn distances(&self, data: Rows<'_>, points: Rows<'_>) -> Result<Vec<f32>, VectorError> {
        let (n, m) = (data.len(), points.len());
        if n == 0 || m == 0 {
            return Ok(vec![0.0; n * m]);
        }
        self.distance_tensor(data, points)?
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(dev)
    }
}

#[cfg(test)]
mod tests {
    use super::super::assign::{Blocked, Direct};
    use super::*;
    use crate::topics::kmeans::{kmeans_plus_plus, lloyd};
    use rand_xoshiro::rand_core::{RngCore, SeedableRng};
    use rand_xoshiro::Xoshiro256Plus;

    fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = Xoshiro256Plus::seed_from_u64(seed);
        (0..n * dim)
            .map(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
            .collect()
    }

    #[test]
    fn device_assignment_matches_row_by_row_on_the_cpu_device() {
        let (n, k, dim) = (777, 19, 24);
        let x = data(n, dim, 1);
        let c = data(k, dim, 2);
        let (rows, cents) = (Rows::new(&x, dim).unwrap(), Rows::new(&c, dim).unwrap());
        let (mut l1, mut d1) = (vec![0u32; n], vec![0f32; n]);
        let (mut l2, mut d2) = (vec![0u32; n], vec![0f32; n]);
        Direct.assign(rows, cents, &mut l1, &mut d1).unwrap();
        let dev = DeviceAssign::new(Device::Cpu);
        dev.assign(rows, cents, &mut l2, &mut d2).unwrap();
        assert_eq!(l1, l2);
        for (a, b) in d1.iter().zip(&d2) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        let p = Rows::new(&c[..3 * dim], dim).unwrap();
        let (e1, e2) = (
            Blocked.distances(rows, p).unwrap(),
            dev.distances(rows, p).unwrap(),
        );
        assert_eq!(e1.len(), n * 3);
        for (a, b) in e1.iter().zip(&e2) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn a_seeding_step_on_the_device_picks_the_host_candidate() {
        let (n, dim) = (900, 16);
        let x = data(n, dim, 5);
        let rows = Rows::new(&x, dim).unwrap();
        let first = Rows::new(&x[..dim], dim).unwrap();
        let closest = Blocked.distances(rows, first).unwrap();
        let cands = Rows::new(&x[40 * dim..48 * dim], dim).unwrap();
        let (mut a, mut b) = (closest.clone(), closest);
        let host = Blocked.seed_step(rows, &mut a, cands).unwrap();
        let device = DeviceAssign::new(Device::Cpu)
            .seed_step(rows, &mut b, cands)
            .unwrap();
        assert_eq!(host, device);
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-4, "{p} vs {q}");
        }
        // The chosen candidate's own row is now at distance 0.
        assert!(b[40 + device] < 1e-5);
    }

    #[test]
    fn a_fit_through_the_device_reaches_the_cpu_objective() {
        let (n, dim) = (1500, 16);
        let x = data(n, dim, 3);
        let rows = Rows::new(&x, dim).unwrap();
        let dev = DeviceAssign::new(Device::Cpu);
        let mut r1 = Xoshiro256Plus::seed_from_u64(4);
        let mut r2 = Xoshiro256Plus::seed_from_u64(4);
        let s1 = kmeans_plus_plus(rows, 10, &mut r1, &Blocked).unwrap();
        let s2 = kmeans_plus_plus(rows, 10, &mut r2, &dev).unwrap();
        let a = lloyd(rows, s1, 10, 300, 0.0, &Blocked).unwrap();
        let b = lloyd(rows, s2, 10, 300, 0.0, &dev).unwrap();
        let gap = (a.objective - b.objective).abs() / a.objective;
        assert!(gap < 1e-3, "{} vs {}", a.objective, b.objective);
    }
}
