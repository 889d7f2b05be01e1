package manifest

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// ProtobufContentType is the Kubernetes protobuf encoding, which kubectl
// uses for the objects it builds itself (kubectl create namespace).
const ProtobufContentType = "application/vnd.kubernetes.protobuf"

var protobufSerializer = func() *protobuf.Serializer {
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	// Options (DeleteOptions, which client-go's typed clients send as
	// protobuf) in meta.k8s.io/v1 as well as in each group.
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		panic(err)
	}
	return protobuf.NewSerializer(scheme, scheme)
}()

// DecodeProtobuf fills into, a core/v1 object or metav1 options, from a
// Kubernetes protobuf body.
func DecodeProtobuf(data []byte, into runtime.Object) error {
	if _, _, err := protobufSerializer.Decode(data, nil, into); err != nil {
		return fmt.Errorf("protobuf: %v: %w", err, ErrMalformed)
	}
	return nil
}
