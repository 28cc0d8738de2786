#include "pubsub/errors.h"

#include "component/ns.h"

int ps_err_typed(xerr_spec_t *err, xerr_t cond, const char *type, const char *app_cond,
                 const char *text)
{
    if (err)
        *err = (xerr_spec_t){
            .cond = cond,
            .type = type,
            .app_cond = app_cond,
            .app_ns = app_cond ? NS_PUBSUB_ERRORS : NULL,
            .text = text,
        };
    return (int)cond;
}

int ps_err(xerr_spec_t *err, xerr_t cond, const char *app_cond, const char *text)
{
    return ps_err_typed(err, cond, NULL, app_cond, text);
}

int ps_err_unsupported(xerr_spec_t *err, const char *feature)
{
    ps_err(err, XERR_FEATURE_NOT_IMPLEMENTED, "unsupported", NULL);
    if (err)
        err->app_feature = feature;
    return XERR_FEATURE_NOT_IMPLEMENTED;
}
