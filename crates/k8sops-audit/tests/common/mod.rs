//! What the RBAC tests share: the SubjectAccessReview the test builds
//! itself (not through the library) to ask the server as the oracle.

use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8sops_audit::rbac::{Attributes, UserInfo};

/// A SubjectAccessReview asking whether `user` (with its groups) may do `a`.
pub(crate) fn subject_access_review(user: &UserInfo, a: &Attributes) -> SubjectAccessReview {
    let spec = if a.resource_request {
        SubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(a.namespace.clone()),
                verb: Some(a.verb.clone()),
                group: Some(a.api_group.clone()),
                resource: Some(a.resource.clone()),
                subresource: Some(a.subresource.clone()),
                name: Some(a.name.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }
    } else {
        SubjectAccessReviewSpec {
            non_resource_attributes: Some(NonResourceAttributes {
                path: Some(a.path.clone()),
                verb: Some(a.verb.clone()),
            }),
            ..Default::default()
        }
    };
    SubjectAccessReview {
        spec: SubjectAccessReviewSpec { user: Some(user.name.clone()), groups: Some(user.groups.clone()), ..spec },
        ..Default::default()
    }
}
