"""From raw pair windows to the two standardised log-mel model inputs (the trainer's interface).

``PairTransform`` splits the work between DataLoader workers (:meth:`PairTransform.cpu_stage`,
one pair of ``(samples,)`` windows at a time, numpy) and the training device
(:meth:`PairTransform.device_stage`, batched torch). The ``waveform`` backend augments in
``cpu_stage`` and crops to exactly ``target_seconds``; the ``spectral`` backend passes the raw
windows through and augments the batched power spectrograms on the device, then crops the
centre ``target_frames`` frames. When the policy holds only linear spectral augmentations
(TS, PS, EQ, low-pass, gain) they run fused (:mod:`.spectral.fused`), which gives the same result as
applying them one by one (tested) several times faster.

Windows: the pairs module reads ``input_seconds()`` of audio centred on each excerpt centre:
``target_seconds * max_rate + margin_s`` (the margin covers the STFT's half window at each
end), rounded up so that it exceeds the target by a whole number of hops on each side. A
time-stretch by ``r`` makes output position ``t`` read the input at ``c + (t - c) * r``,
so the centre crop always reads real audio.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..features.logmel import FrontEnd, LogMel, standardise
from .policy import Policy, build_policy
from .spectral.fused import fusable, fused_mel

ParamTree = dict[str, dict[str, dict[str, np.ndarray]]]


class PairTransform:
    """Turns raw pair windows into the two standardised log-mel model inputs.

    Args:
        policy: a built :class:`~tunespace.augment.policy.Policy` (its backend decides the split).
        frontend: the :class:`~tunespace.features.LogMel` module.
        target_seconds: model input length, s (3 s -> 300 frames at a 10 ms hop).
        margin_s: extra raw audio read per window, s, beyond ``target_seconds * max_rate``.
    """

    def __init__(self, policy: Policy, frontend: LogMel, target_seconds: float = 3.0, margin_s: float = 0.25) -> None:
        if not target_seconds > 0:
            raise ConfigError(f"augment.target_seconds: {target_seconds!r} must be positive")
        self.policy = policy
        self.frontend = frontend
        self.target_seconds = float(target_seconds)
        c = frontend.config
        self.target_samples = int(round(self.target_seconds * c.sample_rate))
        self.target_frames = int(round(self.target_seconds * c.sample_rate / c.hop_length))
        raw = self.target_seconds * policy.max_speedup() + max(float(margin_s), c.n_fft / c.sample_rate)
        # the extra samples are a whole number of hops on each side, so that the centre crop of
        # the frames (spectral) and of the samples (waveform) select the same frames
        extra = max(0.0, raw * c.sample_rate - self.target_samples)
        self.input_samples = self.target_samples + int(math.ceil(extra / (2 * c.hop_length))) * 2 * c.hop_length

    def to(self, device: torch.device | str) -> PairTransform:
        """This transform with its front end (STFT window, filter bank) on ``device``, for the
        device stage; ``self`` is unchanged (the data loader's workers keep the CPU one, so that
        they never touch the GPU)."""
        out = copy.copy(self)
        out.frontend = copy.deepcopy(self.frontend).to(device)
        return out

    def input_seconds(self) -> float:
        """Raw window length the pairs module must read per excerpt, s."""
        return self.input_samples / self.frontend.config.sample_rate

    def cpu_stage(
        self, wave_a: np.ndarray, wave_b: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, ParamTree | dict]:
        """One pair in a DataLoader worker.

        Args:
            wave_a, wave_b: ``(input_samples,)`` float audio windows.
            rng: the worker's generator (the waveform backend draws the parameters from it).
        Returns:
            ``(a, b, params)``: waveform backend: ``(target_samples,)`` float32 each and params
            ``{"a": {kind: {param: array of length 1}}, "b": ...}``; spectral backend: the raw
            windows as float32 and ``{}``.
        """
        wave_a = self._check(wave_a, "wave_a")
        wave_b = self._check(wave_b, "wave_b")
        if self.policy.backend == "spectral":
            return wave_a, wave_b, {}
        params = self.policy.sample(rng, 1)
        views = {"a": wave_a, "b": wave_b}
        for view in ("a", "b"):
            if params[view]:
                views[view] = self.policy.apply_view(views[view], params[view])
            views[view] = _centre_crop(views[view], self.target_samples)
        return views["a"], views["b"], params

    def device_stage(
        self, wave_a: torch.Tensor, wave_b: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor, ParamTree | dict]:
        """A batch on the training device.

        Args:
            wave_a, wave_b: ``(B, samples)`` on any device (``cpu_stage`` outputs, stacked).
            generator: spectral backend: draws the per-item parameters (``None``: torch's
                global generator), on any device; unused by the waveform backend.
        Returns:
            ``(a, b, params)``: two ``(B, 1, n_mels, target_frames)`` standardised log-mels and
            the spectral parameters ``{"a": {kind: {param: array(B)}}, "b": ...}`` (``{}`` for
            the waveform backend, whose params came from ``cpu_stage``).
        """
        fe = self.frontend
        if self.policy.backend == "waveform":
            both = fe(torch.cat([wave_a, wave_b]))
            out = standardise(_crop_frames(both, self.target_frames)).unsqueeze(1)
            return out[: wave_a.shape[0]], out[wave_a.shape[0] :], {}
        n = wave_a.shape[0]
        power = fe.power(torch.cat([wave_a, wave_b]))
        return self.device_stage_power(power[:n], power[n:], generator)

    def input_frames(self) -> int:
        """Frames of the power spectrogram of one raw window (``input_samples`` centred frames)."""
        return self.frontend.frames(self.input_samples)

    def device_stage_power(
        self, power_a: torch.Tensor, power_b: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor, ParamTree | dict]:
        """The spectral backend's device stage from precomputed power spectrograms.

        Args:
            power_a, power_b: ``(B, n_fft // 2 + 1, input_frames())`` linear power spectrograms of
                the raw windows (e.g. slices of a whole track's spectrogram, see
                :class:`tunespace.pairs.SpectrogramCache`).
            generator: draws the per-item parameters.
        Returns:
            as :meth:`device_stage`.
        """
        if self.policy.backend != "spectral":
            raise ConfigError("device_stage_power: only the spectral backend works on spectrograms")
        fe = self.frontend
        where = generator.device if generator is not None else torch.device("cpu")
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=where).item())
        rng = np.random.default_rng(seed)
        n = power_a.shape[0]
        params = self.policy.sample(rng, n)
        views = {"a": power_a, "b": power_b}
        outs = []
        # reverberation acts on the cropped excerpt's mel power, after the others (Reverb.on_excerpt)
        late = [a for a in self.policy.augmentations if getattr(a, "on_excerpt", False)]
        late_kinds = {a.kind for a in late}
        fuse = fusable([a for a in self.policy.augmentations if a.kind not in late_kinds])
        for view in ("a", "b"):
            window = {k: v for k, v in params[view].items() if k not in late_kinds}
            if not window:
                x = fe.mel(_crop_frames(views[view], self.target_frames))
            elif fuse:
                x = fused_mel(
                    views[view],
                    fe.filterbank,
                    self.policy.augmentations,
                    window,
                    self.target_frames,
                    fe.groups,
                    dense=fe.dense,
                )
            else:
                x = _crop_frames(fe.mel(self.policy.apply_view(views[view], window)), self.target_frames)
            for aug in late:
                if aug.kind in params[view]:
                    x = aug.apply(x, params[view][aug.kind])
            outs.append(standardise(fe.compress(x)).unsqueeze(1))
        return outs[0], outs[1], params

    def _check(self, wave: np.ndarray, name: str) -> np.ndarray:
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1 or wave.shape[0] != self.input_samples:
            raise ConfigError(f"{name}: expected ({self.input_samples},) samples, got {tuple(wave.shape)}")
        return wave


def _centre_crop(x: np.ndarray, length: int) -> np.ndarray:
    start = (x.shape[-1] - length) // 2
    return np.ascontiguousarray(x[..., start : start + length])


def _crop_frames(x: torch.Tensor, n_frames: int) -> torch.Tensor:
    if x.shape[-1] < n_frames:
        raise ConfigError(f"augment.target_seconds: input gives {x.shape[-1]} frames, need {n_frames}")
    start = (x.shape[-1] - n_frames) // 2
    return x[..., start : start + n_frames]


def params_to_json(params: Any) -> Any:
    """Nested params with numpy/tensor arrays -> plain lists (JSON-serialisable)."""
    if isinstance(params, dict):
        return {k: params_to_json(v) for k, v in params.items()}
    if isinstance(params, (list, tuple)):
        return [params_to_json(v) for v in params]
    if isinstance(params, (np.ndarray, torch.Tensor, np.generic)):
        return params.tolist()
    return params


def make_pair_transform(
    policy_spec: str | dict[str, Any],
    backend: str = "spectral",
    frontend: FrontEnd | dict[str, Any] | None = None,
    target_seconds: float = 3.0,
    overrides: dict[str, Any] | None = None,
) -> PairTransform:
    """Build the front end and the policy, and return their :class:`PairTransform` (what the trainer uses).

    Args:
        policy_spec: policy name (``"ts+ps"``, ``"ps@waveform"``) or custom policy dict.
        backend: ``"waveform"`` or ``"spectral"`` (an ``@backend`` suffix wins).
        frontend: a :class:`~tunespace.features.FrontEnd`, or a dict of its field overrides.
        target_seconds: model input length, s.
        overrides: per-augmentation parameter overrides (see :func:`~.policy.build_policy`).
    """
    fe_cfg = frontend if isinstance(frontend, FrontEnd) else FrontEnd.from_dict(frontend)
    policy = build_policy(policy_spec, backend=backend, overrides=overrides, frontend=fe_cfg)
    return PairTransform(policy, LogMel(fe_cfg), target_seconds=target_seconds)
