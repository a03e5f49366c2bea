"""Live transcription of both sides of every call (issue 4).

How a call gets its transcript::

    citizen channel ──Gosub(hotline-tap-caller)──┐      operator channel ──Queue gosub──┐
       UserEvent HotlineTap (TapId, Speaker)      │        (hotline-tap-operator)        │
       Originate AudioSocket/HOST:PORT/TapId ─────┴── ChanSpy(qoE) ── TCP ──> asr.audiosocket
                                                                                │
    AMI UserEvent ─> asr.taps.TapRegistry (TapId -> call id = Linkedid, speaker)│
                                                                                v
    asr.service: claim tap ─> asr.pool (admission, Vosk in worker threads) ─> asr.segments
       ─> bus: transcript/<call>/partial|final|status|lag, alert/<call>/keyword,
              system/asr/health|lag
       ─> store: transcript_segments, keyword_alerts (asr.repo, migration 0004)

Module map (pure modules take and return values; only asr.pool imports vosk):

- frames       AudioSocket framing (pure)
- audiosocket  the asyncio TCP server, one task per connection
- taps         tap announcements from AMI, and waiting for them
- pool         the Vosk model, worker threads, admission control, lag
- speech       one-shot recognition of IVR recordings: a grammar for spoken answers, the
               full model for comments (ivr_flows), vocabulary checks
- segments     partial throttling, segments with call offsets, number tokens (pure)
- keywords     keyword alerts, once per call (pure)
- service      the feature: `build(core)`
- models, repo the store
- model_files, model_cli   `hotline asr fetch-model NAME`
- scoring, loadgen         CER and an AudioSocket client, for tests and benches

Settings: `[asr]` in config/settings.py (model_path, workers, max_streams, admit_max_lag,
renew_seconds, keywords as `[[asr.keywords]] keyword = "着火"  action = "transfer_119"`).
"""
