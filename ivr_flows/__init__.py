"""Automated callbacks: the satisfaction survey (回访) and supervision calls (督办).

Module map (pure modules marked *)::

    flows*       flows as data (config/ivr/*.toml), validated at start: FlowError(file, line)
    machine*     one run of a flow: answers in, the next channel command out
    outcomes*    an attempt's outcome from hangup cause and dial status
    jobs*        calling hours, first due time, retries and giving up
    models       callback_jobs, callback_attempts (migration 0007)
    repo         store functions; claim() before every call
    interpreter  CallTracker (AMI handler) and FlowInterpreter (Originate, Setvar+Redirect)
    scheduler    the loop: due jobs, the cap, recovery after a restart
    orders       order steps on the bus -> jobs; results -> bus + SurveyResultSink
    prompts      prompt sound files (espeak-ng Mandarin or recordings) for Asterisk
    feature      build(core) / build_with(core, contacts=, sink=)

The dialplan side is config/asterisk/extensions_ivr.conf.tmpl ([hotline-ivr]).
"""
