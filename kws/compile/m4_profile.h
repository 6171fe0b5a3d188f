/* Forced into every source of a profiling build (kws/compile/m4_runner.py): the generated invoke calls
 * KWS_AOT_LAYER_DONE(i) after layer i, which the runner maps to this function. */
void kws_bench_layer_done(int layer);
