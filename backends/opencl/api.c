/* backends/opencl/api.c - the real OpenCL / CLBlast entry points as an
 * ocl_api table (see ocl_api.h for why the module goes through one). */
#include "ocl_api.h"

static const ocl_api real_api = {
    .GetPlatformIDs = clGetPlatformIDs,
    .GetPlatformInfo = clGetPlatformInfo,
    .GetDeviceIDs = clGetDeviceIDs,
    .GetDeviceInfo = clGetDeviceInfo,
    .CreateContext = clCreateContext,
    .ReleaseContext = clReleaseContext,
    .CreateCommandQueue = clCreateCommandQueue,
    .ReleaseCommandQueue = clReleaseCommandQueue,
    .CreateProgramWithSource = clCreateProgramWithSource,
    .CreateProgramWithBinary = clCreateProgramWithBinary,
    .BuildProgram = clBuildProgram,
    .GetProgramInfo = clGetProgramInfo,
    .GetProgramBuildInfo = clGetProgramBuildInfo,
    .ReleaseProgram = clReleaseProgram,
    .CreateKernel = clCreateKernel,
    .SetKernelArg = clSetKernelArg,
    .ReleaseKernel = clReleaseKernel,
    .CreateBuffer = clCreateBuffer,
    .ReleaseMemObject = clReleaseMemObject,
    .EnqueueWriteBuffer = clEnqueueWriteBuffer,
    .EnqueueReadBuffer = clEnqueueReadBuffer,
    .EnqueueNDRangeKernel = clEnqueueNDRangeKernel,
    .Finish = clFinish,
    .GetEventProfilingInfo = clGetEventProfilingInfo,
    .ReleaseEvent = clReleaseEvent,
    .GetKernelWorkGroupInfo = clGetKernelWorkGroupInfo,
    .Sgemm = CLBlastSgemm,
};

const ocl_api *ocl_api_default(void) {
    return &real_api;
}
