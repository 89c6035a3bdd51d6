/*
 * A bbox parser defined without its cuda_stream parameter: must not compile, with the macro
 * before the definition or (DEFINITION_FIRST) after it, in C and in C++.
 */
#include <dsflow/infer.h>

#ifndef DEFINITION_FIRST
DSFLOW_BBOX_PARSER(WrongParser);
#endif

DSFLOW_EXTERN int32_t WrongParser(const DsflowTensor* outputs, uint32_t num_outputs, uint32_t batch,
                                  const DsflowNetworkInfo* network, const DsflowDetectionParams* params,
                                  DsflowObjects* out)
{
    (void)outputs, (void)num_outputs, (void)batch, (void)network, (void)params, (void)out;
    return DSFLOW_OK;
}

#ifdef DEFINITION_FIRST
DSFLOW_BBOX_PARSER(WrongParser);
#endif
