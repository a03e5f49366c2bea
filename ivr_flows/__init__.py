"""Automated callbacks: the satisfaction survey (回访) and supervision calls (督办).

Module map (pure modules marked *)::

    flows*       flows as data (config/ivr/*.toml), validated at start: FlowError(file, line)
    machine*     one run of a flow: keys or recognized words in, the next channel command out
    outcomes*    an attempt's outcome from hangup cause and dial status
    jobs*        calling hours, first due time, retries and giving up
    models       callback_jobs, callback_attempts (migrations 0007, 0008)
    repo         store functions; claim() before every call; unapplied()/mark_applied()
    interpreter  CallTracker (AMI handler) and FlowInterpreter (Originate, Setvar+Redirect)
    recordings   spoken answers and comments: recordings -> asr.speech (off the loop) -> run
    scheduler    the loop: due jobs, the cap, recovery after a restart, results applied
                 at least once (re-applied at start when a crash came between)
    orders       order steps on the bus -> jobs; results -> bus + SurveyResultSink
    prompts      prompt sound files (espeak-ng Mandarin or recordings) for Asterisk
    feature      build(core) / build_with(core, contacts=, sink=); loads the speech
                 model and checks the flows' spoken words when `ivr.speech` is on

The dialplan side is config/asterisk/extensions_ivr.conf.tmpl ([hotline-ivr]).
"""
