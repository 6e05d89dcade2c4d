// SPDX-License-Identifier: GPL-3.0-or-later
// Generic-template spike detector of classic datashift (docs/ks25-algorithm.md §3.2).
//
// For every window start s and virtual centre g:
//   conv[r, c, s] = Σ_τ wTEMP[τ, r] · x[s + τ, c]                      (prototype filtering)
//   score[g, s]   = max over r, k of max(0, Σ_j w_k(d_gj) conv[r, ch_gj, s])² / v2_k
// A spike at (s, g) when score > threshold², score is the maximum of score[g, ·] over
// [s - 20, s + 20), and no neighbouring centre has a larger score in that window.
//
// Work is split into fixed tiles of window starts (independent of the thread count). Within a
// tile, scores that cannot exceed threshold² are skipped with an exact Cauchy–Schwarz bound
// (score ≤ Σ_j max_r max(conv[r, ch_gj, s], 0)²), and every score ≤ threshold² is stored as 0:
// such scores can never decide anything, since a spike's own score exceeds threshold², so the
// result equals the unpruned definition. (The bound test keeps a 1e-3 relative margin, far above
// the float rounding of a score while the filtered values stay below ~6·10³ whitened units.)
#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>

#include "drift_simd.h"
#include "spikeshard/drift.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

constexpr std::size_t kTile = 512;  // window starts per tile
constexpr std::size_t kMaxNear = 64;  // channels per centre (stack buffer of the score loop)
constexpr std::size_t kMaxPrototypes = 255;  // best prototype index is stored in a byte

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

DetectorGeometry make_detector_geometry(const double* x_um, const double* y_um, std::size_t n_channels,
                                        const DriftDetectorParams& p) {
  require(n_channels > 0, "make_detector_geometry: n_channels must be > 0");
  require(p.n_nearest_channels > 0 && p.n_nearest_channels <= kMaxNear,
          "make_detector_geometry: n_nearest_channels must lie in [1, 64], got " +
              std::to_string(p.n_nearest_channels));
  require(p.n_sizes > 0 && p.size_step_um > 0 && p.centre_x_step_um > 0,
          "make_detector_geometry: n_sizes, size_step_um and centre_x_step_um must be > 0");
  for (std::size_t c = 0; c < n_channels; ++c) {
    require(std::isfinite(x_um[c]) && std::isfinite(y_um[c]),
            "make_detector_geometry: position of channel " + std::to_string(c) + " is not finite");
  }
  std::vector<double> ys(y_um, y_um + n_channels);
  std::sort(ys.begin(), ys.end());
  ys.erase(std::unique(ys.begin(), ys.end()), ys.end());
  require(ys.size() >= 2, "make_detector_geometry: need at least two distinct channel depths to define a pitch");
  std::vector<double> gaps(ys.size() - 1);
  for (std::size_t i = 0; i + 1 < ys.size(); ++i) gaps[i] = ys[i + 1] - ys[i];
  const double pitch = median_of(gaps);

  const auto [xmin_it, xmax_it] = std::minmax_element(x_um, x_um + n_channels);
  const double xmin = *xmin_it, xmax = *xmax_it, ymin = ys.front(), ymax = ys.back();
  const double ystep = pitch / 2;
  const auto ny = static_cast<std::size_t>(std::floor((ymax - ymin) / ystep + 1e-9)) + 1;
  const auto nx = static_cast<std::size_t>(std::floor((xmax - xmin) / p.centre_x_step_um + 1e-9)) + 1;

  DetectorGeometry g;
  g.n_channels = n_channels;
  g.n_near = std::min(p.n_nearest_channels, n_channels);
  g.n_sizes = p.n_sizes;
  g.pitch_um = pitch;
  g.channel_y_um.assign(y_um, y_um + n_channels);
  std::vector<std::size_t> order(n_channels);
  std::vector<double> dist(n_channels);
  for (std::size_t iy = 0; iy < ny; ++iy) {
    for (std::size_t ix = 0; ix < nx; ++ix) {
      const double cy = ymin + ystep * static_cast<double>(iy);
      const double cx = nx == 1 ? xmin : xmin + (xmax - xmin) * static_cast<double>(ix) / static_cast<double>(nx - 1);
      for (std::size_t c = 0; c < n_channels; ++c) dist[c] = std::hypot(x_um[c] - cx, y_um[c] - cy);
      if (!(*std::min_element(dist.begin(), dist.end()) < p.centre_max_site_distance_um)) continue;
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(g.n_near), order.end(),
                        [&](std::size_t a, std::size_t b) {
                          return dist[a] < dist[b] || (dist[a] == dist[b] && a < b);
                        });
      g.centre_x_um.push_back(cx);
      g.centre_y_um.push_back(cy);
      for (std::size_t j = 0; j < g.n_near; ++j) g.near_channels.push_back(static_cast<std::uint32_t>(order[j]));
      for (std::size_t k = 0; k < g.n_sizes; ++k) {
        const double size = p.size_step_um * static_cast<double>(k + 1);
        double v2 = 0;
        for (std::size_t j = 0; j < g.n_near; ++j) {
          const double d = dist[order[j]];
          const double w = std::exp(-(d * d) / (size * size));
          g.weights.push_back(static_cast<float>(w));
          v2 += static_cast<double>(static_cast<float>(w)) * static_cast<float>(w);
        }
        g.sq_norms.push_back(static_cast<float>(v2));
      }
    }
  }
  g.n_centres = g.centre_x_um.size();
  require(g.n_centres > 0,
          "make_detector_geometry: no virtual centre lies within centre_max_site_distance_um of a site");

  g.neighbour_offsets.assign(1, 0);
  std::vector<std::pair<double, std::uint32_t>> near;
  for (std::size_t a = 0; a < g.n_centres; ++a) {
    near.clear();
    for (std::size_t b = 0; b < g.n_centres; ++b) {
      if (b == a) continue;
      const double d = std::hypot(g.centre_x_um[a] - g.centre_x_um[b], g.centre_y_um[a] - g.centre_y_um[b]);
      if (d <= p.neighbour_radius_um) near.emplace_back(d, static_cast<std::uint32_t>(b));
    }
    std::sort(near.begin(), near.end());
    if (near.size() > p.max_neighbours) near.resize(p.max_neighbours);
    for (const auto& [d, b] : near) g.neighbours.push_back(b);
    g.neighbour_offsets.push_back(static_cast<std::uint32_t>(g.neighbours.size()));
  }
  return g;
}

namespace {

struct GeometryKey {
  std::vector<double> x_um, y_um;
  std::size_t n_nearest_channels, n_sizes, max_neighbours;
  double size_step_um, centre_x_step_um, centre_max_site_distance_um, neighbour_radius_um;

  bool operator==(const GeometryKey&) const = default;
};

GeometryKey geometry_key(const double* x_um, const double* y_um, std::size_t n, const DriftDetectorParams& p) {
  return {std::vector<double>(x_um, x_um + n),
          std::vector<double>(y_um, y_um + n),
          p.n_nearest_channels,
          p.n_sizes,
          p.max_neighbours,
          p.size_step_um,
          p.centre_x_step_um,
          p.centre_max_site_distance_um,
          p.neighbour_radius_um};
}

std::mutex geometry_mutex;
GeometryKey last_geometry_key;
std::shared_ptr<const DetectorGeometry> last_geometry;

}  // namespace

std::shared_ptr<const DetectorGeometry> shared_detector_geometry(const double* x_um, const double* y_um,
                                                                 std::size_t n_channels,
                                                                 const DriftDetectorParams& params) {
  GeometryKey key = geometry_key(x_um, y_um, n_channels, params);
  {
    const std::lock_guard<std::mutex> lock(geometry_mutex);
    if (last_geometry && key == last_geometry_key) return last_geometry;
  }
  auto built = std::make_shared<const DetectorGeometry>(make_detector_geometry(x_um, y_um, n_channels, params));
  const std::lock_guard<std::mutex> lock(geometry_mutex);
  last_geometry_key = std::move(key);
  last_geometry = built;
  return built;
}

DriftDetection detect_drift_spikes(const float* x, std::size_t n_samples, std::size_t n_channels,
                                   const DetectorGeometry& geo, const float* w_temp, std::size_t n_prototypes,
                                   std::size_t own_begin, std::size_t own_end, std::size_t capacity,
                                   const DriftDetectorParams& p, int threads) {
  require(n_channels == geo.n_channels, "detect_drift_spikes: the block has " + std::to_string(n_channels) +
                                            " channels but the geometry " + std::to_string(geo.n_channels));
  require(n_prototypes > 0 && n_prototypes <= kMaxPrototypes,
          "detect_drift_spikes: n_prototypes must lie in [1, 255], got " + std::to_string(n_prototypes));
  require(geo.n_near <= kMaxNear, "detect_drift_spikes: the geometry has more than 64 channels per centre");
  require(p.nt0 > 0 && p.nt0min >= 1 && p.nt0min <= p.nt0, "detect_drift_spikes: need nt0 > 0 and 1 <= nt0min <= nt0");
  require(p.window_samples >= 1, "detect_drift_spikes: window_samples must be >= 1");
  require(own_begin <= own_end && own_end <= n_samples,
          "detect_drift_spikes: own range [" + std::to_string(own_begin) + ", " + std::to_string(own_end) +
              ") must lie within the block of " + std::to_string(n_samples) + " samples");
  DriftDetection result;
  const auto nt0 = static_cast<std::size_t>(p.nt0);
  const auto trough = static_cast<std::size_t>(p.nt0min - 1);
  if (n_samples < nt0) return result;
  const std::size_t n_starts = n_samples - nt0 + 1;  // valid window starts [0, n_starts)
  const std::size_t s_lo = own_begin > trough ? own_begin - trough : 0;
  const std::size_t s_hi = std::min(n_starts, own_end > trough ? own_end - trough : 0);
  if (s_lo >= s_hi) return result;

  const auto wl = static_cast<std::size_t>(p.window_samples / 2);
  const auto wr = static_cast<std::size_t>(p.window_samples) - wl;  // window [s - wl, s + wr)
  const float thr2 = static_cast<float>(p.threshold * p.threshold);
  const float bound_cut = thr2 * (1.0f - 1e-3f);  // margin far above float rounding of the bound
  const std::size_t nc = n_channels, ng = geo.n_centres, nn = geo.n_near, nk = geo.n_sizes, np = n_prototypes;

  std::vector<float> w(np * nt0);  // prototype r contiguous
  for (std::size_t r = 0; r < np; ++r) {
    for (std::size_t t = 0; t < nt0; ++t) w[r * nt0 + t] = w_temp[t * np + r];
  }

  const std::size_t n_tiles = (s_hi - s_lo + kTile - 1) / kTile;
  std::vector<std::vector<DriftSpike>> per_tile(n_tiles);
  parallel_for(n_tiles, [&](std::size_t tb, std::size_t te) {
    const std::size_t max_len = kTile + wl + wr;
    const std::size_t stride_x = max_len + nt0 + drift_simd::kFilterLanes;  // the filter may over-read
    std::vector<float> xt(nc * stride_x), conv(np * nc * max_len), pmax(nc * max_len);
    std::vector<float> wmax(ng * kTile), bound(max_len);
    std::vector<unsigned char> row_active(ng);
    struct Hit {  // a score above threshold²: everything else is 0
      std::uint32_t u;
      std::uint32_t r;
      float score;
    };
    std::vector<Hit> hits;
    std::vector<std::size_t> hit_offsets(ng + 1);
    std::vector<std::pair<std::size_t, std::size_t>> candidates;  // (start, index into hits)
    for (std::size_t tile = tb; tile < te; ++tile) {
      const std::size_t a = s_lo + tile * kTile, b = std::min(s_hi, a + kTile);  // output starts
      const std::size_t sa = a > wl ? a - wl : 0, sb = std::min(n_starts, b + wr - 1);  // scored starts
      const std::size_t len = sb - sa, nin = len + nt0 - 1;

      // Channel-major copy of the input so the filter runs over contiguous samples.
      std::fill(xt.begin(), xt.end(), 0.0f);
      for (std::size_t u = 0; u < nin; ++u) {
        const float* row = x + (sa + u) * nc;
        for (std::size_t c = 0; c < nc; ++c) xt[c * stride_x + u] = row[c];
      }
      // Temporal filtering, τ in ascending order for every output sample.
      for (std::size_t c = 0; c < nc; ++c) {
        const float* xr = xt.data() + c * stride_x;
        for (std::size_t r = 0; r < np; ++r) {
          drift_simd::filter(xr, len, w.data() + r * nt0, nt0, conv.data() + (r * nc + c) * max_len);
        }
        float* pm = pmax.data() + c * max_len;
        for (std::size_t u = 0; u < len; ++u) {
          float v = 0.0f;
          for (std::size_t r = 0; r < np; ++r) v = std::max(v, conv[(r * nc + c) * max_len + u]);
          pm[u] = v * v;
        }
      }
      // Scores above threshold² (exact; the bound only skips scores that cannot get there).
      hits.clear();
      for (std::size_t g = 0; g < ng; ++g) {
        hit_offsets[g] = hits.size();
        const std::uint32_t* ch = geo.near_channels.data() + g * nn;
        std::fill(bound.begin(), bound.begin() + static_cast<std::ptrdiff_t>(len), 0.0f);
        for (std::size_t j = 0; j < nn; ++j) {
          const float* pm = pmax.data() + ch[j] * max_len;
          for (std::size_t u = 0; u < len; ++u) bound[u] += pm[u];
        }
        for (std::size_t u = 0; u < len; ++u) {
          if (bound[u] < bound_cut) continue;
          float best = 0.0f;
          std::uint32_t best_r = 0;
          for (std::size_t r = 0; r < np; ++r) {
            float cv[kMaxNear];
            for (std::size_t j = 0; j < nn; ++j) cv[j] = conv[(r * nc + ch[j]) * max_len + u];
            for (std::size_t k = 0; k < nk; ++k) {
              const float* wk = geo.weights.data() + (g * nk + k) * nn;
              float acc = 0.0f;
              for (std::size_t j = 0; j < nn; ++j) acc += wk[j] * cv[j];
              if (!(acc > 0.0f)) continue;
              const float sc = acc * acc / geo.sq_norms[g * nk + k];
              if (sc > best) {
                best = sc;
                best_r = static_cast<std::uint32_t>(r);
              }
            }
          }
          if (best > thr2) hits.push_back({static_cast<std::uint32_t>(u), best_r, best});
        }
      }
      hit_offsets[ng] = hits.size();
      // Windowed maxima at the output starts, scattered from the hits (0 on rows without any).
      const std::size_t out_len = b - a;
      candidates.clear();
      for (std::size_t g = 0; g < ng; ++g) {
        row_active[g] = hit_offsets[g + 1] > hit_offsets[g] ? 1 : 0;
        if (!row_active[g]) continue;
        float* wm = wmax.data() + g * kTile;
        std::fill(wm, wm + out_len, 0.0f);
        for (std::size_t q = hit_offsets[g]; q < hit_offsets[g + 1]; ++q) {
          // score at s enters the windows of the output starts o with o - wl <= s < o + wr.
          const std::size_t s_abs = sa + hits[q].u;
          const std::size_t o_lo = std::max(a, s_abs + 1 > wr ? s_abs + 1 - wr : 0);
          const std::size_t o_hi = std::min(b, s_abs + wl + 1);
          for (std::size_t o = o_lo; o < o_hi; ++o) wm[o - a] = std::max(wm[o - a], hits[q].score);
          if (s_abs >= a && s_abs < b) candidates.emplace_back(s_abs, q);
        }
      }
      std::sort(candidates.begin(), candidates.end());  // by start, then centre (hits are centre-major)
      std::vector<DriftSpike>& spikes = per_tile[tile];
      for (const auto& [s_abs, q] : candidates) {
        const std::size_t g = static_cast<std::size_t>(
            std::upper_bound(hit_offsets.begin(), hit_offsets.end(), q) - hit_offsets.begin() - 1);
        const std::size_t u = hits[q].u, o = s_abs - a;
        const float sc = hits[q].score;
        if (sc != wmax[g * kTile + o]) continue;
        bool is_max = true;
        for (std::uint32_t e = geo.neighbour_offsets[g]; e < geo.neighbour_offsets[g + 1] && is_max; ++e) {
          const std::uint32_t h = geo.neighbours[e];
          if (row_active[h] && wmax[h * kTile + o] > sc) is_max = false;
        }
        if (!is_max) continue;
        const std::size_t r = hits[q].r;
        const std::uint32_t* ch = geo.near_channels.data() + g * nn;
        double wsum = 0, ysum = 0;
        for (std::size_t j = 0; j < nn; ++j) {
          const double v = std::max(0.0f, conv[(r * nc + ch[j]) * max_len + u]);
          wsum += v;
          ysum += v * geo.channel_y_um[ch[j]];
        }
        const double depth = wsum > 0 ? ysum / wsum : geo.centre_y_um[g];
        spikes.push_back({s_abs + trough, static_cast<std::uint32_t>(g), static_cast<float>(depth), std::sqrt(sc)});
      }
    }
  }, threads);
  for (const auto& v : per_tile) result.found += v.size();
  result.spikes.reserve(std::min(result.found, capacity));
  for (const auto& v : per_tile) {
    for (const DriftSpike& s : v) {
      if (result.spikes.size() >= capacity) break;
      result.spikes.push_back(s);
    }
  }
  return result;
}

}  // namespace spikeshard
