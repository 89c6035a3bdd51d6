// C++ only: a wrong parameter list after the macro is a legal C++ overload (with C++ linkage),
// so it compiles; the macro's reference to the C-linkage WrongParser makes dlopen fail naming it.
#include <dsflow/infer.h>

DSFLOW_BBOX_PARSER(WrongParser);

int32_t WrongParser(const DsflowTensor* outputs, uint32_t num_outputs)
{
    (void)outputs, (void)num_outputs;
    return DSFLOW_OK;
}
