"""An optional compiled CPU kernel for `GridWorld.step`: one pass over the worlds.

At B = 4096 the eager step is ~30 batched ops of a few microseconds each; on a CPU this
kernel does the same work (move, wall check, target lookup, step count, truncation,
objective rewards, info fields, the symbolic observation's two changed cells) in one loop.
It is built from C++ source on first use with `torch.utils.cpp_extension` (needs a C++
compiler and `ninja`; ~45 s once, then cached), and used only when asked for:
`GridWorld(..., fused=True)` on CPU. Its results equal the eager step bit for bit
(`tests/test_gridworld_fused.py`); CUDA and every other case use the eager step.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType

from mesalab.errors import MesalabError

_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cstring>
#include <vector>

// Step every world once; agent and steps in place, obs (symbolic, flat) patched in place.
// Returns done count; fills the preallocated outputs.
int64_t fused_step(
    torch::Tensor actions, torch::Tensor agent, torch::Tensor steps, torch::Tensor ints,
    torch::Tensor cells, int64_t colour_offset, torch::Tensor deltas, torch::Tensor pays,
    int64_t max_steps, int64_t num_targets, torch::Tensor obs, int64_t obs_stride, int64_t agent_plane,
    torch::Tensor before, torch::Tensor objectives, torch::Tensor reached, torch::Tensor reached_colour,
    torch::Tensor steps_out, torch::Tensor terminated, torch::Tensor truncated,
    bool autoreset, torch::Tensor episode, torch::Tensor done_index) {
  const int64_t batch = agent.size(0);
  const int64_t width = ints.size(1);
  const int64_t cells_width = cells.size(1);
  const int16_t* cell = cells.data_ptr<int16_t>();
  const int64_t num_objectives = pays.size(2);
  const int64_t* act = actions.data_ptr<int64_t>();
  int64_t* pos = agent.data_ptr<int64_t>();
  int64_t* count = steps.data_ptr<int64_t>();
  const int64_t* block = ints.data_ptr<int64_t>();
  const int64_t* delta = deltas.data_ptr<int64_t>();
  const float* pay = pays.data_ptr<float>();
  float* image = obs.numel() ? obs.data_ptr<float>() : nullptr;
  int64_t* prev = before.data_ptr<int64_t>();
  float* out = objectives.data_ptr<float>();
  int64_t* slot_out = reached.data_ptr<int64_t>();
  int64_t* colour_out = reached_colour.data_ptr<int64_t>();
  int64_t* steps_copy = steps_out.data_ptr<int64_t>();
  bool* term = terminated.data_ptr<bool>();
  bool* trunc = truncated.data_ptr<bool>();
  int64_t* episodes = episode.data_ptr<int64_t>();
  int64_t* finished = done_index.data_ptr<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    TORCH_CHECK(act[b] >= 0 && act[b] < deltas.size(0), "action out of range: ", act[b]);
  }
  // worlds are independent: split them over the intra-op threads, then list the finished
  // ones in order (the same order as nonzero()) in one cheap serial pass
  at::parallel_for(0, batch, 1024, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) {
      const int64_t* row = block + b * width;
      const int64_t here = pos[b];
      const int64_t proposed = here + delta[act[b]];
      const int64_t code = cell[b * cells_width + proposed];
      const int64_t there = code > num_targets ? here : proposed;
      pos[b] = there;
      prev[b] = here;
      const int64_t taken = ++count[b];
      if (image) {
        float* mine = image + b * obs_stride + agent_plane;
        mine[here] = 0.0f;
        mine[there] = 1.0f;
      }
      const int64_t slot = std::min(code, num_targets);
      const bool hit = slot < num_targets;
      const float* paid = pay + (b * (num_targets + 1) + slot) * num_objectives;
      std::copy(paid, paid + num_objectives, out + b * num_objectives);
      slot_out[b] = hit ? slot : -1;
      colour_out[b] = row[colour_offset + slot];
      steps_copy[b] = taken;
      term[b] = hit;
      trunc[b] = !hit && taken >= max_steps;
    }
  });
  int64_t done = 0;
  for (int64_t b = 0; b < batch; ++b) {
    if (term[b] || trunc[b]) {
      finished[done++] = b;
      if (autoreset) ++episodes[b];
    }
  }
  return done;
}

// Start episode episode[w] in the worlds w = index[i] from the rows built ahead
// (row (episode % ahead) * B + w of every source). If any of those rows does not hold that
// episode, nothing is written: their positions in `index` go to `stale` and their count is
// returned (the caller builds them, then calls again). Returns 0 once installed.
int64_t fused_start(
    torch::Tensor index, torch::Tensor episode, torch::Tensor ready, int64_t ahead,
    std::vector<torch::Tensor> sources, std::vector<torch::Tensor> targets,
    torch::Tensor ints, torch::Tensor agent, torch::Tensor steps,
    torch::Tensor obs, int64_t obs_stride, torch::Tensor walls, torch::Tensor marks, torch::Tensor stale) {
  const int64_t count = index.size(0);
  const int64_t batch = agent.size(0);
  const int64_t* worlds = index.data_ptr<int64_t>();
  const int64_t* episodes = episode.data_ptr<int64_t>();
  int64_t* holds = ready.data_ptr<int64_t>();
  int64_t* missing = stale.data_ptr<int64_t>();
  std::vector<int64_t> rows(count);
  int64_t num_stale = 0;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t w = worlds[i];
    rows[i] = (episodes[w] % ahead) * batch + w;
    if (holds[rows[i]] != episodes[w]) missing[num_stale++] = i;
  }
  if (num_stale) return num_stale;
  for (size_t k = 0; k < sources.size(); ++k) {
    const int64_t row_bytes = sources[k].nbytes() / sources[k].size(0);
    const char* from = static_cast<const char*>(sources[k].data_ptr());
    char* to = static_cast<char*>(targets[k].data_ptr());
    for (int64_t i = 0; i < count; ++i) {
      std::memcpy(to + worlds[i] * row_bytes, from + rows[i] * row_bytes, row_bytes);
    }
  }
  const int64_t width = ints.size(1);
  const int64_t* block = ints.data_ptr<int64_t>();
  int64_t* pos = agent.data_ptr<int64_t>();
  int64_t* taken = steps.data_ptr<int64_t>();
  float* image = obs.numel() ? obs.data_ptr<float>() : nullptr;
  const int64_t area = walls.size(1);
  const bool* wall = walls.data_ptr<bool>();
  const int64_t num_marks = marks.numel() ? marks.size(1) : 0;
  const int64_t* mark = marks.numel() ? marks.data_ptr<int64_t>() : nullptr;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t w = worlds[i];
    pos[w] = block[w * width];  // the start cell, column 0
    taken[w] = 0;
    holds[rows[i]] = -1;
    if (image) {  // symbolic: zeros, the wall channel, then the agent / shape / colour marks
      float* mine = image + w * obs_stride;
      std::fill(mine, mine + obs_stride, 0.0f);
      for (int64_t c = 0; c < area; ++c) mine[c] = wall[w * area + c] ? 1.0f : 0.0f;
      for (int64_t j = 0; j < num_marks; ++j) mine[mark[rows[i] * num_marks + j]] = 1.0f;
    }
  }
  return 0;
}
"""

DISABLE_VARIABLE = "MESALAB_NO_FUSED"
"""Set to 1 to refuse the compiled kernel (every world then steps eagerly)."""


@functools.cache
def _build() -> ModuleType:
    from torch.utils.cpp_extension import load_inline

    return load_inline(
        "mesalab_gridworld_step",
        cpp_sources=_SOURCE,
        functions=["fused_step", "fused_start"],
        extra_cflags=["-O3", "-fopenmp"],
        extra_ldflags=["-fopenmp"],
        verbose=False,
    )


def fused_kernel() -> ModuleType:
    """The compiled module (built on first call); `MesalabError` saying why when it cannot be."""
    if os.environ.get(DISABLE_VARIABLE) == "1":
        raise MesalabError(f"the fused gridworld step is disabled by {DISABLE_VARIABLE}=1")
    try:
        return _build()
    except (RuntimeError, OSError, ImportError) as exc:  # no compiler, no ninja, build error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MesalabError(f"cannot build the fused gridworld step ({first}); use fused=False") from None
